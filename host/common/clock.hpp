#pragma once

// CLOCK_MONOTONIC helpers. clock_gettime is async-signal-safe, so these may run in the handler.

#include <chrono>
#include <cstdint>
#include <ctime>

#include <sched.h>

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

/// Polls `done`, yielding the CPU between looks, for up to `d`: @return whether it came true.
/// For waits that usually end within microseconds, where a thread that slept and is woken on an
/// idle CPU starts tens of microseconds late. Async-signal-safe where `done` is.
template <class Done>
bool poll_for(std::chrono::nanoseconds d, Done&& done) noexcept {
  const std::uint64_t until = now_ns() + static_cast<std::uint64_t>(d.count());
  while (!done()) {
    if (now_ns() >= until) return false;
    sched_yield();
  }
  return true;
}

}  // namespace uvm::detail
