#pragma once

// CLOCK_MONOTONIC helpers. clock_gettime is async-signal-safe, so these may run in the handler.

#include <chrono>
#include <cstdint>
#include <ctime>

namespace uvm::detail {

[[nodiscard]] inline std::uint64_t now_ns() noexcept {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<std::uint64_t>(ts.tv_sec) * 1'000'000'000u +
         static_cast<std::uint64_t>(ts.tv_nsec);
}

/// An absolute CLOCK_MONOTONIC deadline, as futex's FUTEX_WAIT_BITSET expects.
[[nodiscard]] inline timespec deadline_after(std::chrono::nanoseconds d) noexcept {
  const std::uint64_t t = now_ns() + static_cast<std::uint64_t>(d.count());
  return {static_cast<time_t>(t / 1'000'000'000u), static_cast<long>(t % 1'000'000'000u)};
}

[[nodiscard]] inline bool passed(const timespec& deadline) noexcept {
  const std::uint64_t d =
      static_cast<std::uint64_t>(deadline.tv_sec) * 1'000'000'000u + deadline.tv_nsec;
  return now_ns() >= d;
}

}  // namespace uvm::detail
