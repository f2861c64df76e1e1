#pragma once

// The kernels in flight, per stream, and which pages each may use; the ranges' stream
// attachments; and the fairness rule between kernels and the operations that wait for them.
//
// Which kernels may use a page follows CUDA's rules for devices without concurrent managed
// access: a range attached `global` may be used by every kernel, `single` by the kernels of
// one stream, `host` by none; a launch that declares what it touches uses only those pages.
// An attachment is stream-ordered: it takes effect when its event completes, and until then
// both the old and the new attachment count (a page is in use if either allows it).
//
// Fairness: while a CPU fault or a queued stream operation waits for the kernels that may use
// its pages, a new launch that may use them waits for it to be served, so a waiter waits at
// most for the kernels in flight when it arrived (a thread relaunching kernels back to back
// cannot starve it). A launch waits only for the queued operations that were there when it
// arrived (a thread queueing moves back to back cannot starve it either), and never for one
// queued on its own stream: that one runs before it in stream order anyway.
//
// Order: launches and stream operations draw tickets from one counter. A queued operation waits
// only for the admitted kernels whose place is before its own (epoch::order < its ticket), and
// an epoch's place moves past every operation queued on its stream before its end is recorded:
// such an operation's gate sits ahead of the kernel (or at least of its end) in the stream, so
// the kernel cannot finish before it. Every wait therefore goes from a later ticket to an
// earlier one, and moves on two streams can never each wait for a kernel behind the other's
// gate. The caller records a launch's end in the same step as its enqueue (under the stream
// issue lock) so that its place is exact; a launch scope whose kernels the application enqueues
// itself is placed at its admission and moved past the operations queued on its stream while it
// is open (the application may have enqueued its kernels before them: those operations then
// wait for the stream, but other streams' operations no longer wait for the scope).
//
// Thread-safe, with a lock of its own; a caller may hold its own lock around the non-blocking
// calls, but not around begin() or wait_*(), which block.

#include "host/backend/backend.hpp"
#include "host/model/device_model.hpp"
#include "host/telemetry/timeline.hpp"

#include <uvm/stream.hpp>

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <mutex>
#include <optional>
#include <span>
#include <unordered_map>
#include <vector>

namespace uvm::detail {

/// Pages [first, first + count) of range `range` (its migrator id).
struct page_use {
  std::uint32_t range;
  std::size_t first;
  std::size_t count;
};

class kernel_epochs {
 public:
  /// Orders launches and waiters: a larger ticket was issued later.
  using ticket = std::uint64_t;
  static constexpr ticket no_ticket = std::numeric_limits<ticket>::max();

  /// `timeout` bounds begin()'s wait for waiters.
  kernel_epochs(backend& b, std::chrono::nanoseconds timeout) : backend_(b), timeout_(timeout) {}
  /// Retires what has finished (onto the timeline).
  ~kernel_epochs() { (void)poll(); }
  kernel_epochs(const kernel_epochs&) = delete;
  kernel_epochs& operator=(const kernel_epochs&) = delete;

  /// Marks a launch on `s` about to be enqueued, once no waiter it may delay is left. With
  /// `declared`, the launch uses only the pages in `uses`; otherwise any page its stream may use.
  /// @throws uvm::timeout if the waiters are not served within the timeout (nothing is marked).
  ticket begin(const stream& s, std::span<const page_use> uses, bool declared);
  /// The launch marked by begin() is enqueued; `e` completes after it (null: a launch that
  /// failed to enqueue, or whose stream broke: nothing to wait for).
  void end(ticket t, event e);

  struct state {
    bool in_flight;  ///< kernels are running, or a launch is being enqueued
    bool ended;      ///< the last kernels finished since the previous poll (an epoch ended)
  };
  /// Retires the kernels that finished (putting each epoch on `t`'s stream track from its
  /// admission to now).
  [[nodiscard]] state poll() noexcept;
  /// Where poll() puts the epochs it retires (null: nowhere), and whom begin() wakes so that
  /// an epoch's end is seen soon (the timeline's writer, the service thread, polls while
  /// kernels run). Call before any launch.
  void set_timeline(timeline* t) noexcept { timeline_ = t; }
  /// Whom poll() tells of each epoch it retires (null: nobody). Call before any launch.
  void set_model(device_model* m) noexcept { model_ = m; }

  /// Whether a kernel that may be running now is in flight on a stream other than `own` (all
  /// streams if null), on `device` if given. A stream-ordered move on `own` runs when the work
  /// queued before it has finished, and the kernels queued after it wait behind its gate:
  /// neither can be running.
  [[nodiscard]] bool running_besides(const stream_base* own,
                                     std::optional<device_id> device = std::nullopt) noexcept;
  /// Whether a kernel that may be running now is in flight on a stream not in `held` (streams
  /// whose later work waits behind a closed gate).
  [[nodiscard]] bool running_outside(std::span<const stream_base* const> held) noexcept;
  /// Whether a launch on `s` that arrived before `before` is not enqueued yet (held back, or
  /// its end not recorded).
  [[nodiscard]] bool enqueuing(const stream_base* s, ticket before) noexcept;
  /// The ticket of the oldest admitted kernel that may be running now (being enqueued, or its
  /// event not complete), on `device` if given, no_ticket if none: a frame freed with fence T
  /// (of that device) may be reused by any kernel once this is at least T
  /// (host/migration/frame_pool.hpp, quarantine).
  [[nodiscard]] ticket oldest_running(std::optional<device_id> device = std::nullopt) noexcept;
  /// The fence of a frame freed now, its page's entry already changed on the device: no_ticket
  /// (free at once) if no kernel that may have started is in flight on a stream other than
  /// `own` (any stream if null), on `device` if given, else one past the newest such kernel's
  /// ticket. A kernel queued behind a closed gate (an operation issued before it on its stream
  /// and not finished) has not started, and will read the new entry; so has a launch not
  /// enqueued yet. Only the kernels of the frame's device can have cached it, unless another
  /// device's kernel that may use its page still runs (the migrator never frees it then). With
  /// `pages` (the pages whose frames are freed), only kernels that may use one of them count: a
  /// kernel that may not (a declared launch elsewhere, a stream the range is not attached to)
  /// has cached none of their lines.
  [[nodiscard]] ticket free_fence(const stream_base* own,
                                  std::optional<device_id> device = std::nullopt,
                                  const page_use* pages = nullptr) noexcept;
  /// Whether an admitted kernel in flight, placed before `before` and not on `except`, may use a
  /// page of `u`.
  [[nodiscard]] bool in_use(const page_use& u, ticket before = no_ticket,
                            const stream_base* except = nullptr) noexcept;
  /// Whether a kernel that may be running now on one of the devices in `devices` (bit d for
  /// device d) may use a page of `u`: the devices that map a page are the ones whose kernels
  /// can reach its frame.
  [[nodiscard]] bool in_use_on(const page_use& u, std::uint32_t devices) noexcept;
  /// Waits for the kernels in flight now. @return false if some still ran at `timeout` (or a
  /// launch was still being enqueued).
  [[nodiscard]] bool wait(std::chrono::nanoseconds timeout) noexcept;
  /// Waits until no admitted kernel placed before `before` (and not on `except`) that may use a
  /// page of `u` is in flight. @return false if one still was at `timeout`.
  [[nodiscard]] bool wait_users(const page_use& u, std::chrono::nanoseconds timeout,
                                ticket before = no_ticket,
                                const stream_base* except = nullptr) noexcept;

  /// Attaches range `range` as `k` (to `s` for `single`), effective once `effective` has
  /// completed (null: at once, as at allocation). @throws std::bad_alloc
  void attach(std::uint32_t range, attach_kind k, const stream& s, event effective);
  /// Waits until every attachment asked for so far is in effect (its event completed), as a
  /// device-wide synchronize must. @return false if one was not by `timeout`.
  [[nodiscard]] bool wait_attachments(std::chrono::nanoseconds timeout) noexcept;
  /// The latest attachment asked for (effective or not).
  [[nodiscard]] attach_kind attachment(std::uint32_t range) noexcept;
  /// A range attached other than `global` at some time, and whether an admitted kernel in
  /// flight may use it (always, once it is global again).
  struct restricted_range {
    std::uint32_t range;
    bool used;
  };
  /// Every such range, into `out` (cleared first). @throws std::bad_alloc
  void restricted(std::vector<restricted_range>& out);
  /// The range's id is free again: it is global, as a new range is.
  void forget(std::uint32_t range) noexcept;

  /// CPU faults now waiting for kernels: launches that may use their pages wait for them.
  void cpu_waiters(std::span<const page_use> waiting) noexcept;
  /// A stream operation queued on `s` (the caller holds the stream issue lock, so that its gate
  /// follows in the stream). With `uses` (a move to the host, a discard) it waits for the
  /// kernels that may use them: launches on other streams that may use them wait until
  /// finish_operation(). Epochs on `s` whose end is not recorded yet are placed after it. `gated`:
  /// the work queued on `s` after it waits behind a gate until finish_operation() (free_fence).
  /// @return its ticket: it waits only for admitted kernels placed before it.
  /// @throws std::bad_alloc
  ticket issue(std::span<const page_use> uses, const stream& s, bool gated = false);
  /// For the operation issued as `t` on `s` with `uses`: if no admitted kernel placed before it
  /// on another stream may use them, marks it running and returns true. From then until
  /// finish_operation(t), every launch on another stream that may use them is held back, whenever
  /// it arrived: one that arrived earlier but was not admitted yet would otherwise be admitted
  /// while the operation runs, and the operation wait for a kernel that may sit behind an older
  /// operation's gate (which the one worker running this operation cannot open meanwhile).
  [[nodiscard]] bool claim(ticket t, std::span<const page_use> uses, const stream_base* s) noexcept;
  /// A gate that holds `s`'s later work until the ranges allocated during kernels are registered
  /// (late_registrations) was just enqueued on `s`: the launches on `s` not enqueued yet are
  /// behind it, and the operations issued on `s` so far are ahead of it. An operation that the
  /// registration waits for does not wait for a kernel behind such a gate: that kernel cannot
  /// start before the operation has finished (until the registration gives up at the timeout),
  /// and waiting for it would close a cycle (the operation waits for the kernel, the kernel for
  /// the registration, the registration for the operation).
  void registration_gate(const stream_base* s) noexcept;
  /// The registration gates open (call before opening them).
  void registration_gates_open() noexcept;
  /// The ticket the next launch or waiter will get.
  [[nodiscard]] ticket next() noexcept;
  /// The operation issued as `t` is finished (or was never queued): launches it held back go
  /// on, and its gate counts as open (call before opening it).
  void finish_operation(ticket t) noexcept;

 private:
  struct epoch {
    ticket id;     // its arrival: the waiters it waits for are older
    ticket order;  // its place among queued operations (see Order above)
    stream on;
    device_id device;  // the device of `on`
    event done;        // null while the launch is being enqueued
    bool declared;
    std::vector<page_use> uses;
    bool admitted;                       // false while begin() holds the launch back
    bool behind_registration = false;    // enqueued behind a registration gate
    std::uint64_t begun_ns = 0;          // for the timeline: when begin() admitted it
    mutable std::uint64_t ended_ns = 0;  // and when a wait first saw it finished (0: not yet)
  };
  struct binding {
    attach_kind kind;
    const stream_base* to;  // `single`: the stream (compared while `alive` has not expired)
    std::weak_ptr<stream_base> alive;
    event effective;  // null once in effect
  };
  struct closed_gate {
    ticket id;  // the operation's ticket: launches on `on` that arrived later are behind it
    const stream_base* on;
  };
  struct waiter {
    ticket id;
    page_use pages;
    const stream_base* on;  // null: a CPU fault
    bool running = false;   // claimed: holds back every launch on another stream that may use it
  };

  // All below: mutex_ held.
  // Admitted, and its event not known to be complete (also while it is being enqueued).
  bool running(const epoch& e) noexcept {
    return e.admitted && !(e.done && backend_.query(e.done));
  }
  static bool counts(const epoch& e, ticket before) noexcept;
  // Whether the operation issued as `before` on `s` waits for `e` (see registration_gate).
  bool waited_by(const epoch& e, ticket before, const stream_base* s) noexcept;
  // in_use() with the lock held.
  bool used(const page_use& u, ticket before, const stream_base* except) noexcept;
  void retire_bindings(std::vector<binding>& b) noexcept;
  bool attached_for(std::uint32_t range, const stream_base* s) noexcept;
  bool may_use(const epoch& e, const page_use& u) noexcept;
  bool may_use(const stream_base* s, std::span<const page_use> uses, bool declared,
               const page_use& u) noexcept;
  // Whether a CPU fault, or a move queued before `arrival` on another stream, holds back a
  // launch on `s`.
  bool held_back(const stream_base* s, std::span<const page_use> uses, bool declared,
                 ticket arrival) noexcept;
  // An event of a matching kernel still running (null if none), and whether a matching launch
  // is still being enqueued.
  template <class Match>
  bool pending(Match&& match, event& running) noexcept;
  template <class Match>
  bool wait_until_none(Match&& match, std::chrono::nanoseconds timeout) noexcept;

  backend& backend_;
  std::chrono::nanoseconds timeout_;
  timeline* timeline_ = nullptr;
  device_model* model_ = nullptr;
  std::mutex mutex_;
  std::condition_variable served_;
  ticket next_ = 0;
  std::vector<epoch> epochs_;  // in flight: enqueued and not known to be finished, or enqueuing
  std::unordered_map<std::uint32_t, std::vector<binding>> bindings_;  // absent: global
  std::vector<waiter> waiters_;
  std::vector<closed_gate> gates_;  // operations issued with a gate and not finished
  // Registration gates not open: operations on `on` issued before `id` are ahead of them.
  std::vector<closed_gate> registration_gates_;
  bool had_kernels_ = false;  // since the last poll that saw none
};

}  // namespace uvm::detail
