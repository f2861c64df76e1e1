#include <uvm/stats.hpp>

#include <cstdio>
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

std::string summary(const stats& s) {
  const auto ms = [](std::uint64_t ns) { return static_cast<double>(ns) / 1e6; };
  const auto mib = [](std::uint64_t b) { return static_cast<double>(b) / (1u << 20); };
  const auto u = [](std::uint64_t v) { return static_cast<unsigned long long>(v); };
  const std::uint64_t cpu_ns = s.first_touch.latency.total_ns + s.upgrade.latency.total_ns +
                               s.waited.latency.total_ns + s.serviced.latency.total_ns;
  char line[512];
  std::snprintf(
      line, sizeof line,
      "uvm: faults cpu %llu (first-touch %llu, upgrade %llu, waited %llu, serviced %llu, "
      "spurious %llu), device %llu | H2D %.1f MiB, D2H %.1f MiB, D2D %.1f MiB | evictions %llu, "
      "remote %llu, prefetched %llu, promoted %llu | thrashing %llu throttles, %llu "
      "pins | in faults: cpu %.1f ms, device %.1f ms",
      u(s.cpu_faults()), u(s.first_touch.count), u(s.upgrade.count), u(s.waited.count),
      u(s.serviced.count), u(s.spurious_faults), u(s.device.count), mib(s.bytes_host_to_device),
      mib(s.bytes_device_to_host), mib(s.bytes_device_to_device), u(s.evictions),
      u(s.remote_mappings), u(s.prefetched_pages), u(s.promoted_pages), u(s.thrashing_throttles),
      u(s.thrashing_pins), ms(cpu_ns), ms(s.device.latency.total_ns));
  return line;
}

}  // namespace uvm
