#pragma once

// The fault service thread. It takes CPU faults that move data from a lock-free queue the signal
// handler fills, and device faults from the fault mailbox that device code fills, resolves them
// in batches through the migration layer, and wakes the faulting threads. Between batches it
// logs the events the handler recorded.

#include "host/common/bounded_queue.hpp"
#include "host/fault/service/fault_request.hpp"
#include "host/fault/service/fault_resolver.hpp"
#include "host/telemetry/event_ring.hpp"
#include "host/telemetry/timeline.hpp"
#include "host/telemetry/trace_writer.hpp"

#include <uvm/detail/fault_mailbox.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <thread>
#include <vector>

namespace uvm::detail {

class fault_service {
 public:
  static constexpr std::size_t max_batch = 256;

  /// `trace` and `run_timeline`, if not null, are drained to their files by the service thread,
  /// which also puts its fault batches on the timeline. Both outlive the service. `devices`:
  /// one fault ring for each (1 .. max_devices).
  fault_service(fault_resolver& resolver, event_ring& events, trace_writer* trace = nullptr,
                timeline* run_timeline = nullptr, std::uint32_t devices = 1);
  ~fault_service();
  fault_service(const fault_service&) = delete;
  fault_service& operator=(const fault_service&) = delete;

  /// Queues `r` and rings the service thread. Async-signal-safe.
  /// @return false if the queue is full (the caller retries until its deadline).
  bool submit(fault_request& r) noexcept;

  /// Resolves `r` on the calling thread, if that needs no waiting for other threads
  /// (fault_resolver::try_resolve): @return true with `r` completed (its stages say it was never
  /// queued), false with nothing done (submit it). Not async-signal-safe: for a fault mechanism
  /// whose handler is a thread of its own (userfaultfd), which then spares the fault two
  /// hand-offs between threads (to the service and back).
  bool serve_here(fault_request& r) noexcept;

  /// Whether kernels were in flight at the thread's last look: then the CPUs are busy with
  /// them, and a thread waiting for its request sleeps at once rather than polling (a poll
  /// would take the CPU from the kernels and from this thread). Async-signal-safe.
  [[nodiscard]] bool kernels_in_flight() const noexcept {
    return kernels_.load(std::memory_order_relaxed);
  }

  /// The ring device `d`'s code posts to (host memory; the backend maps it for the device).
  [[nodiscard]] fault_mailbox& mailbox(std::uint32_t d = 0) noexcept { return *mailboxes_.at(d); }

  /// CPU time the service thread has used since it started (its polling included), in ns; what
  /// it had used when stopped, once stopped.
  [[nodiscard]] std::uint64_t cpu_ns() noexcept;

  /// Stops the thread (idempotent). The resolver must outlive the thread; owners whose
  /// resolver dies first call this before.
  void stop() noexcept;

 private:
  // How the service thread polls while kernels run (see run()).
  static constexpr std::chrono::microseconds shortest_nap{5};
  static constexpr std::chrono::microseconds longest_nap{50};
  static constexpr std::chrono::milliseconds idle_nap{50};
  // How long the thread polls for more CPU faults after serving some before it sleeps: a thread
  // that reads its way through a range faults page after page, and a thread woken on an idle
  // CPU starts tens of microseconds late.
  static constexpr std::chrono::microseconds cpu_fault_spin{50};
  // How long it polls the rings for more device faults after serving some while kernels run: a
  // kernel's lanes fault in waves, and a nap of even a few microseconds on a busy CPU ends late.
  static constexpr std::chrono::microseconds device_fault_spin{50};

  void run();
  // The resolver admitted a kernel: wakes the thread if it sleeps as though none ran.
  void kernel_admitted() noexcept;
  // @return whether it took new requests.
  bool serve_cpu_batch();
  // @return the records it took (max_batch: more may be waiting).
  std::size_t serve_device_batch();
  // Whether a device posted a record the service has not taken (any ring).
  [[nodiscard]] bool device_faults_posted() const noexcept;
  [[nodiscard]] fault_mailbox& bell() noexcept { return *mailboxes_.front(); }
  void drain_events();
  void drain_recorders() noexcept;  // the trace and the timeline, to their files
  void record_batch(timeline_kind kind, std::uint64_t start, std::uint32_t count,
                    std::uint64_t records) noexcept;

  fault_resolver& resolver_;
  event_ring& events_;
  trace_writer* trace_;
  timeline* timeline_;
  std::uint32_t tid_ = 0;  // the service thread's, for the timeline
  // One ring per device; the host's wakers ring the first one's doorbell, which the thread
  // sleeps on (a device's post wakes no one: the thread polls every ring while kernels run).
  std::vector<fault_mailbox*> mailboxes_;
  std::uint32_t first_ring_ = 0;  // the ring a batch drains first: turns, so none starves
  bounded_queue<fault_request*, 1024> queue_;
  std::vector<fault_request*> deferred_;  // service thread only
  std::atomic<bool> stop_{false};
  std::atomic<bool> idle_{false};     // sleeping as though no kernel ran
  std::atomic<bool> kernels_{false};  // kernels_in_flight()
  bool warned_coarsening_ = false;
  std::uint64_t dropped_reported_ = 0;
  std::atomic<std::uint64_t> cpu_at_stop_{0};
  std::atomic<bool> stopped_{false};  // the thread was joined: cpu_at_stop_ holds its time
  std::thread thread_;
};

}  // namespace uvm::detail
