#pragma once

// "lru": evicts the least recently accessed resident page. A list in recency order plus a hash
// map into it keeps every operation O(1), so it can run on every accessed-bit scan.

#include "host/policy/eviction_policy.hpp"

#include <list>
#include <unordered_map>

namespace uvm::detail {

class lru_eviction final : public eviction_policy {
 public:
  lru_eviction() = default;
  // The index holds iterators into the list: copies would point into the original.
  lru_eviction(const lru_eviction&) = delete;
  lru_eviction& operator=(const lru_eviction&) = delete;

 private:
  /// Becoming resident is an access; so is a repeated on_resident of a resident page.
  void do_on_resident(page_ref p) override;
  /// An access to a page that is not resident is ignored (it has no frame to keep).
  void do_on_access(page_ref p) override;
  void do_on_released(page_ref p) override;
  /// The least recently accessed page; the same page until it is accessed or released.
  std::optional<page_ref> do_victim() override;
  std::size_t do_size() const noexcept override { return index_.size(); }
  std::string_view do_name() const noexcept override { return "lru"; }

  std::list<page_ref> order_;  // front: least recently accessed
  std::unordered_map<page_ref, std::list<page_ref>::iterator, page_ref_hash> index_;
};

}  // namespace uvm::detail
