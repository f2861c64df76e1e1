#pragma once

// The fault service thread: takes faults that move data from a lock-free queue the signal
// handler fills, resolves them in batches, and wakes the faulting threads. Between batches it
// logs the events the handler recorded.

#include "host/common/bounded_queue.hpp"
#include "host/fault/fault_request.hpp"
#include "host/fault/fault_resolver.hpp"
#include "host/telemetry/event_ring.hpp"

#include <atomic>
#include <cstdint>
#include <thread>

namespace uvm::detail {

class fault_service {
 public:
  static constexpr std::size_t max_batch = 256;

  fault_service(fault_resolver& resolver, event_ring& events);
  ~fault_service();
  fault_service(const fault_service&) = delete;
  fault_service& operator=(const fault_service&) = delete;

  /// Queues `r` and rings the service thread. Async-signal-safe.
  /// @return false if the queue is full (the caller retries until its deadline).
  bool submit(fault_request& r) noexcept;

  /// Logs what the handler recorded so far. Also called by the service thread on its own.
  void drain_events();

 private:
  void run();
  void serve_batch();

  fault_resolver& resolver_;
  event_ring& events_;
  bounded_queue<fault_request*, 1024> queue_;
  std::atomic<std::uint32_t> doorbell_{0};
  std::atomic<bool> stop_{false};
  bool warned_coarsening_ = false;
  std::thread thread_;
};

}  // namespace uvm::detail
