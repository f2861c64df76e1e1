#pragma once

// "a0", the static oracle: knows in advance how often the trace's device accesses name each page
// (its popularity over the whole trace) and evicts the resident page with the fewest, ties
// going to the least recently used. Where references are drawn independently from a fixed
// distribution (the independent reference model: a Zipf-popular table), this is the best any
// online policy can do (Aho, Denning and Ullman's A0), while Belady's MIN also knows *when* each
// page comes back. So bytes/a0 tells how far a policy is from learning the popularity, and
// a0/min how much no online policy can win back on that trace.
//
// An ordinary eviction_policy built from the trace, as belady_eviction is.

#include "bench/replay/trace_io.hpp"
#include "host/policy/eviction_policy.hpp"

#include <cstddef>
#include <cstdint>
#include <set>
#include <tuple>
#include <unordered_map>

namespace uvm::replay {

class static_oracle final : public detail::eviction_policy {
 public:
  /// Counts every access of `device` in `t` (the trace the simulator will replay).
  explicit static_oracle(const trace& t, std::uint16_t device = 0);

 private:
  struct page_info {
    std::uint64_t uses = 0;   // device accesses in the whole trace
    std::uint64_t stamp = 0;  // the last time it became resident or was used
    bool resident = false;
  };
  using key = std::tuple<std::uint64_t, std::uint64_t, detail::page_ref>;  // uses, stamp, page

  void do_on_resident(detail::page_ref p) override { touch(p, true); }
  void do_on_access(detail::page_ref p) override { touch(p, false); }
  void do_on_released(detail::page_ref p) override;
  std::optional<detail::page_ref> do_victim() override;
  std::size_t do_size() const noexcept override { return order_.size(); }
  std::string_view do_name() const noexcept override { return "a0"; }

  void touch(detail::page_ref p, bool arriving);

  std::unordered_map<detail::page_ref, page_info, detail::page_ref_hash> pages_;
  std::set<key> order_;  // resident pages, least popular (then least recent) first
  std::uint64_t clock_ = 0;
};

}  // namespace uvm::replay
