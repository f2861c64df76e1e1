#pragma once

// A one-shot "done" flag on a futex word. Events, copies and kernel grids of the emulated
// device all finish through one, so every waiter sleeps in the kernel instead of spinning.

#include "host/common/clock.hpp"
#include "host/common/futex.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>

namespace uvm::detail {

class completion {
 public:
  [[nodiscard]] bool is_complete() const noexcept {
    return word_.load(std::memory_order_acquire) != 0;
  }

  /// Marks done and wakes every waiter; the release store publishes the work done before it.
  void complete() noexcept {
    word_.store(1, std::memory_order_release);
    futex_wake_all(word_);
  }

  /// @return false if it was not done within `timeout` (a non-positive timeout only polls).
  [[nodiscard]] bool wait_for(std::chrono::nanoseconds timeout) noexcept {
    if (is_complete()) return true;
    if (timeout <= std::chrono::nanoseconds::zero()) return false;
    // Clamped so that "forever" (nanoseconds::max()) cannot overflow the absolute deadline.
    const timespec deadline = deadline_after(std::min(timeout, max_timeout));
    while (!is_complete()) {
      if (!futex_wait_until(word_, 0, deadline)) return is_complete();
    }
    return true;
  }

  /// Waits without a bound: only for work the backend itself guarantees to finish.
  void wait() noexcept {
    while (!wait_for(std::chrono::hours(1))) {
    }
  }

 private:
  static constexpr std::chrono::nanoseconds max_timeout{std::int64_t{1} << 61};  // ~73 years

  std::atomic<std::uint32_t> word_{0};
};

}  // namespace uvm::detail
