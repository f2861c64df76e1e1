#pragma once

// One managed range at run time: its memory, its page table, and the CPU fault logic that keeps
// the app view's protections equal to the page states.

#include "host/coherence/page_advice.hpp"
#include "host/coherence/page_table.hpp"
#include "host/coherence/transition.hpp"
#include "host/fault/service/range_gate.hpp"
#include "host/memory/dual_mapping.hpp"
#include "host/memory/view_protection.hpp"

#include <uvm/advice.hpp>
#include <uvm/device_view.hpp>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>

namespace uvm::detail {

class fault_service;
struct fault_request;
struct counters;
class event_ring;
class trace_writer;
class timeline;

/// The unit of policy bookkeeping; also how far a fault coarsens near vm.max_map_count.
inline constexpr std::size_t block_bytes = std::size_t{2} << 20;

/// What a range needs from its runtime. Everything here outlives the range.
struct fault_context {
  view_protection* source;
  counters* stats;
  event_ring* events;
  fault_service* service;  ///< null: faults that move data fail with ENODEV
  std::chrono::nanoseconds timeout;
  trace_writer* trace = nullptr;     ///< null: no trace is recorded
  timeline* run_timeline = nullptr;  ///< null: no timeline is written
};

class managed_range {
 public:
  struct fault_outcome {
    enum class status : std::uint8_t {
      resolved,   ///< the page now allows the access
      spurious,   ///< the page already allowed it; nothing was changed
      timed_out,  ///< the page was not served before the fault timeout
      failed,     ///< resolving failed; `error` says why
    };
    status st;
    int error = 0;
    page_word word = 0;  ///< the page's word when the outcome was decided
  };

  /// @throws as dual_mapping and page_table.
  managed_range(const fault_context& ctx, std::size_t bytes, std::size_t page_size);
  ~managed_range();
  managed_range(const managed_range&) = delete;
  managed_range& operator=(const managed_range&) = delete;

  [[nodiscard]] std::byte* base() const noexcept { return memory_.app(); }
  [[nodiscard]] std::byte* runtime_view() const noexcept { return memory_.runtime(); }
  /// The runtime view stays mapped when the range is destroyed: the caller unmaps it
  /// (reserved() bytes), once the device can no longer reach it.
  [[nodiscard]] std::byte* release_runtime_view() noexcept { return memory_.release_runtime(); }
  [[nodiscard]] std::size_t size() const noexcept { return size_; }
  [[nodiscard]] std::size_t reserved() const noexcept { return memory_.size(); }
  [[nodiscard]] std::size_t page_size() const noexcept { return std::size_t{1} << page_shift_; }
  [[nodiscard]] std::size_t page_count() const noexcept { return pages_.size(); }
  [[nodiscard]] bool contains(const void* p) const noexcept {
    const auto* b = static_cast<const std::byte*>(p);
    return b >= base() && b < base() + reserved();
  }
  [[nodiscard]] std::size_t page_of(const void* p) const noexcept {
    return static_cast<std::size_t>(static_cast<const std::byte*>(p) - base()) >> page_shift_;
  }
  [[nodiscard]] std::byte* page_address(std::size_t page) const noexcept {
    return base() + (page << page_shift_);
  }
  [[nodiscard]] page_table& pages() noexcept { return pages_; }
  /// Which device the advice that names one names, per page.
  [[nodiscard]] page_advice& device_advice() noexcept { return advice_; }
  [[nodiscard]] const page_advice& device_advice() const noexcept { return advice_; }
  [[nodiscard]] page_state state_of(std::size_t page) const noexcept {
    return visible_state(pages_.load(page));
  }

  /// Resolves a CPU access to `addr` that faulted. Async-signal-safe; may wait up to the fault
  /// timeout. A fault that needs the service thread is handed over in `slot`, which the caller
  /// owns: after a `timed_out` outcome the service may still hold it, so the caller keeps it
  /// alive and does not return to the faulting code (the handler reports and aborts, with the
  /// slot in its own frame, above the abort path's). `tid` is the faulting thread, for the
  /// timeline (0: the calling thread).
  [[nodiscard]] fault_outcome on_cpu_fault(const void* addr, access a, fault_request& slot,
                                           std::uint32_t tid = 0) noexcept;

  /// After a `spurious` outcome whose word was `seen`: re-applies the protection that the
  /// page's state implies (under a claim, so no transition can interleave), in case the app
  /// view's protection has fallen out of step with the state. Async-signal-safe.
  /// @return the page's word after the repair, or 0 if the page changed meanwhile (nothing done;
  /// the access is simply retried).
  [[nodiscard]] page_word heal(const void* addr, page_word seen) noexcept;

  /// Under a claim of `page` (whose word was `seen`), runs `fill(state)` and publishes the same
  /// state again: for a mechanism that fills the untouched parts of an accessible page in place.
  /// @return false if the page changed meanwhile (nothing done), else what `fill` returned.
  template <class Fill>
  bool fill_in_place(std::size_t page, page_word seen, Fill&& fill) noexcept {
    page_word w = seen;
    if ((w & busy_bit) != 0 || !pages_.try_claim(page, w)) return false;
    const page_state s = stored_state(w);
    const bool ok = fill(s);
    pages_.publish(page, s);
    return ok;
  }

  /// Makes every page ask `gate` before a fault widens its access (a range shared with other
  /// processes). Called once, before any access; `gate` outlives every fault of the range.
  void set_gate(range_gate* gate) noexcept {
    gate_ = gate;
    pages_.set_flag(0, pages_.size(), gated_bit, true);
  }
  /// The range's gate; null for a range of this process alone.
  [[nodiscard]] range_gate* gate() const noexcept { return gate_; }

  /// The range's number in the process, never reused (unlike its address).
  [[nodiscard]] std::uint64_t serial() const noexcept { return serial_; }

  /// Moves a page that the caller claimed (its word was `claimed` before the claim) to `target`:
  /// sets the app view's protection, then publishes. On failure the page is published back in
  /// its old state. Async-signal-safe; used by the handler and by the migration layer.
  [[nodiscard]] fault_outcome commit(std::size_t page, page_word claimed,
                                     page_state target) noexcept;

  /// Changes the app view of the claimed pages [first, first + count), all in state `from`, to
  /// what `to` allows, with one mprotect, keeping the mapping budget. With `strict`, refuses
  /// (returns `over_budget`) rather than go over it. Async-signal-safe.
  /// @return 0, `over_budget`, or the errno of the failing call.
  static constexpr int over_budget = -1;
  [[nodiscard]] int set_access(std::size_t first, std::size_t count, page_state from, page_state to,
                               bool strict) noexcept;

  /// set_access for a change that opens the app view of claimed pages, which near the mapping
  /// limit coarsens instead: the blocks around the run become read-write, and `coarsened` says
  /// the caller must then publish its pages host_exclusive. A read-only target coarsens only with
  /// `read_may_coarsen` (no device copy would be left behind: a CPU read first touch).
  /// Async-signal-safe.
  /// @return 0, or the errno of the failing call (ENOMEM when even coarsening failed); the view
  /// is then as it was.
  [[nodiscard]] int widen(std::size_t first, std::size_t count, page_state from, page_state to,
                          bool read_may_coarsen, bool& coarsened) noexcept;

  /// How device code reaches this range; set by the migration layer when a device is attached.
  [[nodiscard]] const device_range& device() const noexcept { return device_; }
  void attach_device(const device_range& d) noexcept { device_ = d; }

  /// Sets advice on pages [first, first + count); `where` is the location the advice names.
  void advise(std::size_t first, std::size_t count, advice a, location where) noexcept;
  /// The attributes every page of [first, first + count) agrees on.
  [[nodiscard]] range_attributes attributes(std::size_t first, std::size_t count) const noexcept;

  /// @return the protection boundaries this range adds to the process's mappings (an estimate).
  [[nodiscard]] std::int64_t boundaries() const noexcept {
    return boundaries_.load(std::memory_order_relaxed);
  }

 private:
  int coarsen(std::size_t first, std::size_t count, page_state from) noexcept;
  void record_access(std::size_t page, access a) const noexcept;
  // Pushes the fault of thread `tid` (0: the calling thread) on `page` to the timeline.
  // `served`: a serviced fault's request, whose times give the timeline its stages.
  void record_fault(std::uint8_t kind, std::size_t page, access a, std::uint64_t start,
                    std::uint32_t tid, const fault_request* served = nullptr) const noexcept;
  fault_outcome serve(std::size_t page, access a, const timespec& deadline,
                      fault_request& req) noexcept;
  [[nodiscard]] view_span view_of(std::size_t first, std::size_t count) const noexcept {
    return {page_address(first), runtime_view() + (first << page_shift_), count << page_shift_};
  }
  [[nodiscard]] host_access access_at(std::size_t page) const noexcept {
    return host_access_of(stored_state(pages_.load(page)));
  }
  [[nodiscard]] std::int64_t boundary_delta(std::size_t first, std::size_t count, host_access from,
                                            host_access to) const noexcept;

  fault_context ctx_;
  device_range device_{};
  dual_mapping memory_;
  page_table pages_;
  page_advice advice_;
  std::size_t size_;
  unsigned page_shift_;
  std::atomic<std::int64_t> boundaries_{0};
  std::uint64_t serial_;
  range_gate* gate_ = nullptr;
};

}  // namespace uvm::detail
