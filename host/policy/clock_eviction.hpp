#pragma once

// "clock": second chance, an LRU approximation that needs only a reference bit per page (what
// the accessed bits of the page table give). Pages sit on a circle in residency order; the hand
// sweeps it, clearing set bits, and stops at the first page whose bit is clear.
//
// Exact semantics:
//  - on_resident of a new page inserts it just behind the hand (the last page the hand will
//    reach) with its bit set; of a resident page, it is an access.
//  - on_access sets the bit of a resident page; of any other page, it is ignored.
//  - victim() sweeps from the hand and leaves the hand ON the page it returns. Calling victim()
//    again without on_released in between returns the same page, unless that page was accessed
//    meanwhile (then it gets its second chance and the sweep goes on). So victim() is
//    idempotent between events, like fifo's and lru's.
//  - on_released of the page under the hand moves the hand to the next page.

#include "host/policy/eviction_policy.hpp"

#include <list>
#include <unordered_map>

namespace uvm::detail {

class clock_eviction final : public eviction_policy {
 public:
  clock_eviction() = default;
  // The index holds iterators into the list: copies would point into the original.
  clock_eviction(const clock_eviction&) = delete;
  clock_eviction& operator=(const clock_eviction&) = delete;

 private:
  struct entry {
    page_ref page;
    bool referenced;
  };
  using iterator = std::list<entry>::iterator;

  void do_on_resident(page_ref p) override;
  void do_on_access(page_ref p) override;
  void do_on_released(page_ref p) override;
  std::optional<page_ref> do_victim() override;
  std::size_t do_size() const noexcept override { return index_.size(); }
  std::string_view do_name() const noexcept override { return "clock"; }

  /// The page after `it` on the circle.
  iterator next(iterator it) noexcept;

  std::list<entry> ring_;        // the circle, cut anywhere; the hand says where the sweep starts
  iterator hand_ = ring_.end();  // end() only while the ring is empty
  std::unordered_map<page_ref, iterator, page_ref_hash> index_;
};

}  // namespace uvm::detail
