#pragma once

// "lru": evicts the least recently accessed resident page, O(1) per operation, so it can run on
// every accessed-bit scan.

#include "host/policy/eviction_policy.hpp"
#include "host/policy/recency_list.hpp"

namespace uvm::detail {

class lru_eviction final : public eviction_policy {
 private:
  /// Becoming resident is an access; so is a repeated on_resident of a resident page.
  void do_on_resident(page_ref p) override { order_.touch(p); }
  /// An access to a page that is not resident is ignored (it has no frame to keep).
  void do_on_access(page_ref p) override {
    if (order_.contains(p)) order_.touch(p);
  }
  void do_on_released(page_ref p) override { order_.erase(p); }
  /// The least recently accessed page; the same page until it is accessed or released.
  std::optional<page_ref> do_victim() override { return order_.oldest(); }
  std::size_t do_size() const noexcept override { return order_.size(); }
  std::string_view do_name() const noexcept override { return "lru"; }

  recency_list order_;
};

}  // namespace uvm::detail
