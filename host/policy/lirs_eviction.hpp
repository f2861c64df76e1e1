#pragma once

// "lirs": Low Inter-reference Recency Set (Jiang and Zhang, SIGMETRICS 2002). A page whose
// last two uses were close together (low inter-reference recency, LIR) keeps its frame; the
// others (HIR) share a small part of the device, about 1%, in a FIFO queue Q, and the victim
// is Q's oldest page. The stack S holds, in recency order, every LIR page and the HIR pages
// used more recently than the least recent LIR page (resident or not). A HIR page used again
// while still in S has been re-used within the LIR pages' span: it becomes LIR, and the least
// recent LIR page (the bottom of S) becomes HIR. So a loop or a scan larger than the device
// cycles through Q and leaves the LIR pages resident, as MIN keeps a fixed part of a loop.
//
// The interface names no capacity: c is the most pages ever resident, and a new page becomes
// LIR while fewer than c - max(1, c / 100) pages are. Non-resident HIR pages kept in S are
// bounded by c (the one released longest ago goes first), so S holds at most about 2c pages.
// A LIR page released by the manager (Q empty, or freed, or moved back to the host) becomes a
// non-resident HIR page of S.

#include "host/policy/eviction_policy.hpp"
#include "host/policy/recency_list.hpp"

#include <cstdint>
#include <memory_resource>
#include <unordered_map>

namespace uvm::detail {

class lirs_eviction final : public eviction_policy {
 public:
  /// Resident pages with low inter-reference recency (LIR).
  [[nodiscard]] std::size_t lir_size() const noexcept { return lir_; }
  /// Resident HIR pages (the queue Q, where victims come from).
  [[nodiscard]] std::size_t hir_size() const noexcept { return queue_.size(); }
  /// Pages in the stack S (LIR, resident HIR and non-resident HIR).
  [[nodiscard]] std::size_t stack_size() const noexcept { return stack_.size(); }
  /// Whether `p` is a resident LIR page.
  [[nodiscard]] bool is_lir(page_ref p) const;

 private:
  enum class state : std::uint8_t { lir, hir, gone };  // gone: a non-resident HIR page in S

  void do_on_resident(page_ref p) override;
  void do_on_access(page_ref p) override;
  void do_on_released(page_ref p) override;
  std::optional<page_ref> do_victim() override;
  std::size_t do_size() const noexcept override { return lir_ + queue_.size(); }
  std::string_view do_name() const noexcept override { return "lirs"; }

  [[nodiscard]] std::size_t lir_target() const noexcept;
  // `p`, a HIR page in S (resident or not), is used again: it becomes LIR.
  void promote(page_ref p);
  // Demotes LIR pages from the bottom of S while there are more than the target.
  void demote_excess();
  // Removes HIR pages from the bottom of S, so that it is a LIR page (or S is empty).
  void prune();
  void forget_gone(page_ref p);

  std::pmr::unsynchronized_pool_resource pool_;  // first: outlives the map using it
  std::pmr::unordered_map<page_ref, state, page_ref_hash> state_{&pool_};
  recency_list stack_;  // S, least recent first
  recency_list queue_;  // Q: resident HIR pages, oldest first
  recency_list gone_;   // non-resident HIR pages in S, released longest ago first
  std::size_t lir_ = 0;
  std::size_t peak_ = 0;  // c: the most pages ever resident
};

}  // namespace uvm::detail
