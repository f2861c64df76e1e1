#pragma once

// The clock the suites time with, and order statistics over its samples.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <ctime>
#include <vector>

namespace bench {

// CLOCK_MONOTONIC through the vDSO: about 20 ns and no syscall, so it barely shifts a
// microsecond-scale fault.
[[nodiscard]] inline std::uint64_t now_ns() noexcept {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<std::uint64_t>(ts.tv_sec) * 1'000'000'000u +
         static_cast<std::uint64_t>(ts.tv_nsec);
}

struct summary {
  double median = 0;
  double p10 = 0;
  double p90 = 0;
  std::size_t count = 0;
};

// The q-quantile (0 <= q <= 1) of sorted samples, linearly interpolated between ranks.
[[nodiscard]] inline double quantile_of_sorted(const std::vector<std::uint64_t>& sorted, double q) {
  if (sorted.empty()) return 0;
  const double pos = q * static_cast<double>(sorted.size() - 1);
  const auto lo = static_cast<std::size_t>(pos);
  const std::size_t hi = std::min(lo + 1, sorted.size() - 1);
  const double frac = pos - static_cast<double>(lo);
  return static_cast<double>(sorted[lo]) * (1 - frac) + static_cast<double>(sorted[hi]) * frac;
}

// Takes the samples by value: sorting is the caller's copy, not its data.
[[nodiscard]] inline summary summarize(std::vector<std::uint64_t> samples) {
  std::sort(samples.begin(), samples.end());
  return {quantile_of_sorted(samples, 0.5), quantile_of_sorted(samples, 0.1),
          quantile_of_sorted(samples, 0.9), samples.size()};
}

}  // namespace bench
