#include <uvm/stats.hpp>

#include <numeric>

namespace uvm {

std::uint64_t latency_histogram::count() const noexcept {
  return std::accumulate(buckets.begin(), buckets.end(), std::uint64_t{0});
}

std::chrono::nanoseconds latency_histogram::mean() const noexcept {
  const std::uint64_t n = count();
  return std::chrono::nanoseconds(n == 0 ? 0 : total_ns / n);
}

std::chrono::nanoseconds latency_histogram::quantile(double q) const noexcept {
  const std::uint64_t n = count();
  if (n == 0) return std::chrono::nanoseconds(0);
  q = q < 0 ? 0 : (q > 1 ? 1 : q);
  const double rank = q * static_cast<double>(n);
  double seen = 0;
  for (std::size_t i = 0; i < bucket_count; ++i) {
    const auto c = static_cast<double>(buckets[i]);
    if (c > 0 && seen + c >= rank) {
      const double lo = i == 0 ? 0.0 : static_cast<double>(std::uint64_t{1} << i);
      const double hi = static_cast<double>(std::uint64_t{1} << (i + 1));
      return std::chrono::nanoseconds(
          static_cast<std::int64_t>(lo + (hi - lo) * (rank - seen) / c));
    }
    seen += c;
  }
  return std::chrono::nanoseconds(std::int64_t{1} << bucket_count);
}

}  // namespace uvm
