#pragma once

// The clock the suites time with, and order statistics over its samples.

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <ctime>
#include <vector>

namespace bench {

// Clock `clock` in nanoseconds: CLOCK_MONOTONIC, or the CPU time used so far by
// CLOCK_PROCESS_CPUTIME_ID (every thread) or CLOCK_THREAD_CPUTIME_ID (the caller's).
[[nodiscard]] inline std::uint64_t clock_ns(clockid_t clock) noexcept {
  timespec ts{};
  clock_gettime(clock, &ts);
  return static_cast<std::uint64_t>(ts.tv_sec) * 1'000'000'000u +
         static_cast<std::uint64_t>(ts.tv_nsec);
}

// CLOCK_MONOTONIC through the vDSO: about 20 ns and no syscall, so it barely shifts a
// microsecond-scale fault.
[[nodiscard]] inline std::uint64_t now_ns() noexcept {
  return clock_ns(CLOCK_MONOTONIC);
}

// One timed 1-byte write to the first byte of each of `pages` pages from `base`, in address
// order (one fault each where the pages fault), appending each latency in ns to `out`. The
// signal fences keep the compiler from moving the store across the clock reads.
inline void time_page_writes(void* base, std::size_t page_size, std::size_t pages,
                             std::vector<std::uint64_t>& out) {
  for (std::size_t i = 0; i < pages; ++i) {
    volatile unsigned char* p = static_cast<unsigned char*>(base) + i * page_size;
    const std::uint64_t t0 = now_ns();
    std::atomic_signal_fence(std::memory_order_seq_cst);
    *p = 1;
    std::atomic_signal_fence(std::memory_order_seq_cst);
    const std::uint64_t t1 = now_ns();
    out.push_back(t1 - t0);
  }
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
