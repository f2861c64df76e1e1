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
// Thread-safe, with a lock of its own; a caller may hold its own lock around the non-blocking
// calls, but not around begin() or wait_*(), which block.

#include "host/backend/backend.hpp"
#include "host/telemetry/timeline.hpp"

#include <uvm/stream.hpp>

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <mutex>
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

  /// Whether a kernel that may be running now is in flight on a stream other than `own` (all
  /// streams if null). A stream-ordered move on `own` runs when the work queued before it has
  /// finished, and the kernels queued after it wait behind its gate: neither can be running.
  [[nodiscard]] bool running_besides(const stream_base* own) noexcept;
  /// The ticket of the oldest admitted kernel that may be running now (being enqueued, or its
  /// event not complete), no_ticket if none: a frame freed when next() was T may be reused by
  /// any kernel once this is at least T (host/migration/frame_pool.hpp, quarantine).
  [[nodiscard]] ticket oldest_running() noexcept;
  /// Whether a kernel in flight (begun before `before`, not on `except`) may use a page of `u`.
  [[nodiscard]] bool in_use(const page_use& u, ticket before = no_ticket,
                            const stream_base* except = nullptr) noexcept;
  /// Waits for the kernels in flight now. @return false if some still ran at `timeout` (or a
  /// launch was still being enqueued).
  [[nodiscard]] bool wait(std::chrono::nanoseconds timeout) noexcept;
  /// Waits until no kernel begun before `before` (and not on `except`) that may use a page of
  /// `u` is in flight; with a ticket, also launches that arrived before it and are still held
  /// back. @return false if one still was at `timeout`.
  [[nodiscard]] bool wait_users(const page_use& u, std::chrono::nanoseconds timeout,
                                ticket before = no_ticket,
                                const stream_base* except = nullptr) noexcept;

  /// Attaches range `range` as `k` (to `s` for `single`), effective once `effective` has
  /// completed (null: at once, as at allocation). @throws std::bad_alloc
  void attach(std::uint32_t range, attach_kind k, const stream& s, event effective);
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
  /// A stream operation on `s` that waits for the kernels that may use `uses` (a move to the
  /// host): launches on other streams that may use them wait until remove_waiter(). @return
  /// its ticket: kernels begun later are not waited for. @throws std::bad_alloc
  ticket add_waiter(std::span<const page_use> uses, const stream& s);
  /// The ticket the next launch or waiter will get.
  [[nodiscard]] ticket next() noexcept;
  void remove_waiter(ticket t) noexcept;

 private:
  struct epoch {
    ticket id;
    stream on;
    event done;  // null while the launch is being enqueued
    bool declared;
    std::vector<page_use> uses;
    bool admitted;                       // false while begin() holds the launch back
    std::uint64_t begun_ns = 0;          // for the timeline: when begin() admitted it
    mutable std::uint64_t ended_ns = 0;  // and when a wait first saw it finished (0: not yet)
  };
  struct binding {
    attach_kind kind;
    const stream_base* to;  // `single`: the stream (compared while `alive` has not expired)
    std::weak_ptr<stream_base> alive;
    event effective;  // null once in effect
  };
  struct waiter {
    ticket id;
    page_use pages;
    const stream_base* on;  // null: a CPU fault
  };

  // All below: mutex_ held.
  static bool counts(const epoch& e, ticket before) noexcept;
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
  std::mutex mutex_;
  std::condition_variable served_;
  ticket next_ = 0;
  std::vector<epoch> epochs_;  // in flight: enqueued and not known to be finished, or enqueuing
  std::unordered_map<std::uint32_t, std::vector<binding>> bindings_;  // absent: global
  std::vector<waiter> waiters_;
  bool had_kernels_ = false;  // since the last poll that saw none
};

}  // namespace uvm::detail
