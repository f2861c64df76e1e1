#pragma once

// "arc": Adaptive Replacement Cache (Megiddo and Modha, FAST 2003). Resident pages are split
// between T1 (seen once since they last came in) and T2 (used again while resident), each in
// recency order; B1 and B2 remember the pages recently evicted from each. A page that comes
// back from B1 shows that T1 was too small, one from B2 that T2 was: the target size p of T1
// moves towards the list that would have kept it, and the victim is T1's least recent page
// while T1 is above p, T2's otherwise. So a scan larger than the device passes through T1
// without pushing out the pages used twice, which LRU cannot do.
//
// The interface names no capacity: c is the most pages ever resident. ARC adapts p on the
// miss and then picks a victim; here the manager asks for the victim before the missing page
// arrives, so p moves one miss late, and the tie rule of the paper (evict from T1 when the
// incoming page is in B2 and |T1| = p) is left out: the victim does not know the incoming page.

#include "host/policy/eviction_policy.hpp"
#include "host/policy/recency_list.hpp"

namespace uvm::detail {

class arc_eviction final : public eviction_policy {
 public:
  /// The target size p of T1 (pages seen once), between 0 and c.
  [[nodiscard]] std::size_t target() const noexcept { return target_; }
  /// Resident pages seen once (T1) and used again (T2).
  [[nodiscard]] std::size_t recent_size() const noexcept { return t1_.size(); }
  [[nodiscard]] std::size_t frequent_size() const noexcept { return t2_.size(); }
  /// Remembered evicted pages (B1 and B2), and those of B1 alone.
  [[nodiscard]] std::size_t ghost_size() const noexcept { return b1_.size() + b2_.size(); }
  [[nodiscard]] std::size_t recent_ghost_size() const noexcept { return b1_.size(); }

 private:
  void do_on_resident(page_ref p) override;
  void do_on_access(page_ref p) override;
  void do_on_released(page_ref p) override;
  std::optional<page_ref> do_victim() override;
  std::size_t do_size() const noexcept override { return t1_.size() + t2_.size(); }
  std::string_view do_name() const noexcept override { return "arc"; }

  // Drops the oldest ghosts until |T1| + |B1| <= c and all four lists hold at most 2c pages.
  void trim_ghosts();

  recency_list t1_;         // resident, seen once since it came in
  recency_list t2_;         // resident, used again
  recency_list b1_;         // evicted from T1
  recency_list b2_;         // evicted from T2
  std::size_t peak_ = 0;    // c: the most pages ever resident
  std::size_t target_ = 0;  // p: T1's target size
};

}  // namespace uvm::detail
