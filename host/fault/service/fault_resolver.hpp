#pragma once

// What the fault service thread calls to resolve faults that move data. The migration layer
// implements it; a host-only runtime has nothing to move from.

#include "host/common/waker.hpp"
#include "host/memory/access.hpp"
#include "host/telemetry/nvtx.hpp"

#include <uvm/detail/fault_mailbox.hpp>

#include <cerrno>
#include <cstddef>
#include <span>

namespace uvm::detail {

class managed_range;

class fault_resolver {
 public:
  /// resolve() returns this to have the request retried later (a kernel still maps the page).
  static constexpr int retry_later = EAGAIN;

  virtual ~fault_resolver() = default;

  /// Brings `page` of `r` to a state that allows the CPU access `a`. Runs on the service
  /// thread, may block on copies and on the resolver's lock.
  /// @return 0, retry_later, or an errno-style code that the faulting thread reports.
  [[nodiscard]] int resolve(managed_range& r, std::size_t page, access a) noexcept {
    UVM_NVTX_FUNC_RANGE();
    return do_resolve(r, page, a);
  }

  /// resolve(), on a thread other than the service's (the userfaultfd handler's), and only if it
  /// needs no waiting for others: @return retry_later, having changed nothing, where resolve()
  /// would wait for the resolver's lock or defer the fault behind a kernel (the request then
  /// goes to the service thread, which queues and defers it); also retry_later, as resolve()
  /// returns it, where the move's copy outlived the fault timeout (it completes later).
  [[nodiscard]] int try_resolve(managed_range& r, std::size_t page, access a) noexcept {
    UVM_NVTX_FUNC_RANGE();
    return do_try_resolve(r, page, a);
  }

  /// Maps the pages of a batch of device faults (deduplicated, most intrusive access kept,
  /// sorted by range and page) for the device.
  void resolve_device(std::span<const fault_record> batch) noexcept {
    UVM_NVTX_FUNC_RANGE();
    do_resolve_device(batch);
  }

  /// Called on every turn of the service loop: retires finished kernels.
  /// @return true while kernels are in flight (the loop then polls the mailbox more often).
  bool poll() noexcept { return do_poll(); }

  /// Called after every CPU batch: whether some CPU faults are waiting for kernels in flight
  /// (retry_later). A resolver holds back new launches while they are.
  void cpu_faults_waiting(bool waiting) noexcept { do_cpu_faults_waiting(waiting); }

  /// How the resolver wakes the service thread that calls it (set by the service; null: not
  /// at all). The device cannot wake a host thread, as a GPU cannot, so the service polls the
  /// mailbox while kernels run and sleeps while none does: the resolver rings the bell when it
  /// admits a kernel, and a sleeping service starts polling. `ring` is async-signal-safe and
  /// `arg` outlives every call, until set_bell(nullptr, nullptr).
  void set_bell(void (*ring)(void*), void* arg) noexcept { bell_.set(ring, arg); }

 protected:
  /// Tells the service that device faults may come (a kernel was admitted).
  void ring_bell() const noexcept { bell_(); }

 private:
  virtual int do_resolve(managed_range& r, std::size_t page, access a) noexcept = 0;
  virtual int do_try_resolve(managed_range&, std::size_t, access) noexcept { return retry_later; }
  virtual void do_resolve_device(std::span<const fault_record>) noexcept {}
  virtual bool do_poll() noexcept { return false; }
  virtual void do_cpu_faults_waiting(bool) noexcept {}

  waker bell_;
};

}  // namespace uvm::detail
