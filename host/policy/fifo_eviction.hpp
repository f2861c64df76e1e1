#pragma once

// "fifo": evicts pages in the order they became resident, ignoring accesses. This is what
// NVIDIA's driver effectively does (it evicts the oldest-allocated root chunk), so it is the
// baseline the other policies are measured against.

#include "host/policy/eviction_policy.hpp"
#include "host/policy/recency_list.hpp"

namespace uvm::detail {

class fifo_eviction final : public eviction_policy {
 private:
  /// A page already resident keeps its place: a repeated on_resident counts as an access, and
  /// accesses do not matter to fifo.
  void do_on_resident(page_ref p) override {
    if (!order_.contains(p)) order_.touch(p);
  }
  void do_on_access(page_ref) override {}
  void do_on_released(page_ref p) override { order_.erase(p); }
  /// The oldest resident page; the same page until it is released.
  std::optional<page_ref> do_victim() override { return order_.oldest(); }
  std::size_t do_size() const noexcept override { return order_.size(); }
  std::string_view do_name() const noexcept override { return "fifo"; }
  bool do_uses_accesses() const noexcept override { return false; }

  recency_list order_;  // in residency order
};

}  // namespace uvm::detail
