#pragma once

// Belady's MIN: the offline optimal eviction. On victim() it names the resident page whose next
// device access comes farthest in the future (a page never accessed again by the device first;
// ties broken by the larger page_ref, so the choice is deterministic).
//
// It is an ordinary eviction_policy, so it plugs into the same simulator as fifo/lru/clock. It
// learns the present through trace_position_hook::advance(i), which the simulator calls before
// record i. on_resident and on_access at record i store the page's next use as its first device
// access at or after i: the page that record i accesses (faulting or hit) gets i itself, so it is
// never the victim while its own fault is being served (prefetched pages of that fault get their
// real next use, and may be the victim: the simulator then drops the rest of the prefetch).
// A stored next use stays exact until it is reached, because every device access to a resident
// page reaches on_access; the entries it has passed (those < the position, the smallest keys)
// are refreshed lazily by victim(), each at most once per access.
//
// Optimality: MIN minimises device faults for demand paging (prefetch "none") with any trace. It
// ignores dirtiness and CPU accesses, and with prefetch it is the farthest-next-use rule applied
// to the same prefetch decisions — the usual reference point, not a proven lower bound on bytes.

#include "bench/replay/simulator.hpp"
#include "bench/replay/trace_io.hpp"
#include "host/policy/eviction_policy.hpp"

#include <cstddef>
#include <cstdint>
#include <limits>
#include <set>
#include <unordered_map>
#include <utility>
#include <vector>

namespace uvm::replay {

class belady_eviction final : public detail::eviction_policy, public trace_position_hook {
 public:
  /// Index of "never accessed again".
  static constexpr std::size_t never = std::numeric_limits<std::size_t>::max();

  /// Learns every access of `device` in `t` (the trace the simulator will replay): with several
  /// devices each has its own MIN, farthest next use on that device (the reference point per
  /// device, not a bound on the moves between devices).
  explicit belady_eviction(const trace& t, std::uint16_t device = 0);

  void advance(std::size_t index) override { now_ = index; }

  /// The record index of `p`'s first device access at or after the current position, or `never`.
  [[nodiscard]] std::size_t next_use(detail::page_ref p);

 private:
  struct page_uses {
    std::vector<std::size_t> at;  // record indices of device accesses, ascending
    std::size_t pos = 0;          // first entry that may be after the current position
    std::size_t key = never;      // next use stored in by_next_ while resident
    bool resident = false;
  };

  void do_on_resident(detail::page_ref p) override;
  void do_on_access(detail::page_ref p) override;
  void do_on_released(detail::page_ref p) override;
  std::optional<detail::page_ref> do_victim() override;
  std::size_t do_size() const noexcept override { return by_next_.size(); }
  std::string_view do_name() const noexcept override { return "min"; }

  void place(detail::page_ref p, page_uses& u);

  std::size_t now_ = 0;
  std::unordered_map<detail::page_ref, page_uses, detail::page_ref_hash> pages_;
  std::set<std::pair<std::size_t, detail::page_ref>> by_next_;  // resident pages by next use
};

}  // namespace uvm::replay
