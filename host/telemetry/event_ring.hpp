#pragma once

// Notable events recorded where logging is not allowed (the signal handler) and logged later by
// the fault service thread.

#include "host/common/bounded_queue.hpp"

#include <atomic>
#include <cstdint>

namespace uvm::detail {

enum class event_kind : std::uint8_t {
  coarsened,  ///< a block was made host-resident at once to save protection runs
};

struct telemetry_event {
  event_kind kind;
  std::uintptr_t address;  ///< first byte concerned
  std::uint64_t value;     ///< kind-specific: bytes for `coarsened`
  std::uint64_t time_ns;   ///< CLOCK_MONOTONIC
};

class event_ring {
 public:
  /// Async-signal-safe. Drops the event (and counts it) when the ring is full.
  void push(const telemetry_event& e) noexcept {
    if (!ring_.try_push(e)) dropped_.fetch_add(1, std::memory_order_relaxed);
  }
  bool pop(telemetry_event& e) noexcept { return ring_.try_pop(e); }
  [[nodiscard]] std::uint64_t dropped() const noexcept {
    return dropped_.load(std::memory_order_relaxed);
  }

 private:
  bounded_queue<telemetry_event, 1024> ring_;
  std::atomic<std::uint64_t> dropped_{0};
};

}  // namespace uvm::detail
