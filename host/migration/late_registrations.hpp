#pragma once

// Host memory of ranges allocated while kernels ran, registered once no kernel can run.
//
// CUDA may order a registration (page-locking) after the kernels in flight, as it orders an
// allocation; a kernel waiting on a fault would then never end, and neither would the
// registration. So a range allocated while kernels are in flight is not registered at once:
// from then on, every launch is held behind a gate on its stream (as CUDA's implicit
// synchronisation holds the work issued after a page-locking allocation), the kernels already
// in flight end, and the owner registers the ranges at a moment when every kernel that may be
// running is held; then the gates open. A gate never holds a kernel that arrived before the
// allocation (a queued move may wait for such a kernel, and a kernel before the gate for the
// move): it goes on a stream only once every earlier launch on it is enqueued. The host waits for
// nothing: allocate() and the launches return at once, and a kernel launched after the allocation
// may use the range, since it starts only once the range is registered.
//
// A stream operation ahead of a gate (or ahead of a kernel that the registration waits for) does
// not wait for a kernel behind a gate, which cannot start before it has finished
// (kernel_epochs::registration_gate): that wait would close a cycle.
//
// Bounded: if the kernels in flight still run after the timeout, the gates open anyway (an
// error is logged) and the ranges wait for a moment with no kernel in flight; their pages move
// by pageable copies meanwhile and are never mapped remote.

#include "host/backend/backend.hpp"
#include "host/migration/kernel_epochs.hpp"

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <vector>

namespace uvm::detail {

class late_registrations {
 public:
  late_registrations(backend& b, kernel_epochs& epochs, std::chrono::nanoseconds timeout)
      : backend_(b), epochs_(epochs), timeout_(timeout) {}
  /// Opens every gate.
  ~late_registrations() { release(); }
  late_registrations(const late_registrations&) = delete;
  late_registrations& operator=(const late_registrations&) = delete;

  /// Ranges wait for registration: launches that arrive from now on (kernel_epochs::next()) are
  /// held. Only where the backend has gates (backend::enqueue_gate); elsewhere the owner waits
  /// for the kernels instead.
  void add() noexcept;
  /// The waiting ranges are registered (or freed, or given up on): the gates open.
  void done() noexcept;
  /// Whether ranges wait (launches are held).
  [[nodiscard]] bool pending() const noexcept { return pending_.load(std::memory_order_acquire); }

  /// Takes the stream issue lock `issue` for a launch or stream operation on `s` that arrived as
  /// `t`, and while ranges wait (and `t` came after the allocation), puts a gate on `s` (once)
  /// ahead of whatever is enqueued on it next, under that lock, so that what is enqueued before
  /// the gate is known. An earlier launch on `s` that is not enqueued yet must not end up behind
  /// the gate: the lock is let go (that launch needs it) until it is, or until a short patience
  /// is spent (a launch scope whose kernels are still to come).
  /// @throws as backend::record and backend::enqueue_gate.
  [[nodiscard]] std::unique_lock<std::mutex> lock_holding(std::mutex& issue, const stream& s,
                                                          kernel_epochs::ticket t);

  enum class turn : std::uint8_t {
    none,     ///< no range waits
    waiting,  ///< kernels that may be running are not all held yet
    now,      ///< register now, then call done(): no kernel can be running, nor start before
    expired,  ///< the timeout passed: the gates are open, and the ranges no longer hold launches
  };
  /// Whether the waiting ranges may be registered now.
  [[nodiscard]] turn poll() noexcept;

 private:
  // One try of lock_holding (issue lock held): false while an earlier launch is not enqueued.
  bool hold(const stream& s, kernel_epochs::ticket t, bool patience_spent);
  void release() noexcept;  // opens every gate; mutex_ held or single-threaded

  struct held_stream {
    stream on;
    event ahead;  // completes once what was enqueued on `on` before the gate has
    gate g;
  };

  backend& backend_;
  kernel_epochs& epochs_;
  std::chrono::nanoseconds timeout_;
  std::mutex mutex_;
  std::atomic<bool> pending_{false};  // written under mutex_
  std::vector<held_stream> held_;
  std::uint64_t since_ns_ = 0;         // when ranges started to wait
  kernel_epochs::ticket barrier_ = 0;  // launches that arrived from then on are held
};

}  // namespace uvm::detail
