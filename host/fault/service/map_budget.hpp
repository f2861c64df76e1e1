#pragma once

// The process may hold at most vm.max_map_count mappings, and every change of protection in the
// middle of a mapping splits it. This budget estimates how many protection boundaries the ranges
// have created, so faults can coarsen before mprotect fails with ENOMEM. See docs/architecture.md.

#include <atomic>
#include <cstdint>

namespace uvm::detail {

class map_budget {
 public:
  /// The process-wide budget: half of vm.max_map_count, leaving the rest to everything else.
  static map_budget& process() noexcept;

  /// Charges `delta` boundaries if that stays within the limit; a delta <= 0 always succeeds.
  /// Async-signal-safe.
  bool try_charge(std::int64_t delta) noexcept {
    if (delta <= 0) {
      used_.fetch_add(delta, std::memory_order_relaxed);
      return true;
    }
    std::int64_t cur = used_.load(std::memory_order_relaxed);
    do {
      if (cur + delta > limit_.load(std::memory_order_relaxed)) return false;
    } while (!used_.compare_exchange_weak(cur, cur + delta, std::memory_order_relaxed));
    return true;
  }

  /// Charges `delta` unconditionally (coarsening, freeing). Async-signal-safe.
  void charge(std::int64_t delta) noexcept { used_.fetch_add(delta, std::memory_order_relaxed); }

  [[nodiscard]] std::int64_t used() const noexcept { return used_.load(std::memory_order_relaxed); }
  [[nodiscard]] std::int64_t limit() const noexcept {
    return limit_.load(std::memory_order_relaxed);
  }
  /// Replaces the limit (tests shrink it to reach the coarse path with small ranges).
  void set_limit(std::int64_t limit) noexcept { limit_.store(limit, std::memory_order_relaxed); }

  /// @return vm.max_map_count as read at the first call, or 65530 (the kernel's default) if it
  /// could not be read. Async-signal-safe after the first call (process() makes it).
  static std::int64_t max_map_count() noexcept;

 private:
  map_budget() noexcept;
  std::atomic<std::int64_t> used_{0};
  std::atomic<std::int64_t> limit_;
};

}  // namespace uvm::detail
