#pragma once

// "fifo": evicts pages in the order they became resident, ignoring accesses. This is what
// NVIDIA's driver effectively does (it evicts the oldest-allocated root chunk), so it is the
// baseline the other policies are measured against.

#include "host/policy/eviction_policy.hpp"

#include <list>
#include <unordered_map>

namespace uvm::detail {

class fifo_eviction final : public eviction_policy {
 public:
  fifo_eviction() = default;
  // The index holds iterators into the list: copies would point into the original.
  fifo_eviction(const fifo_eviction&) = delete;
  fifo_eviction& operator=(const fifo_eviction&) = delete;

 private:
  /// A page already resident keeps its place: a repeated on_resident counts as an access, and
  /// accesses do not matter to fifo.
  void do_on_resident(page_ref p) override;
  void do_on_access(page_ref) override {}
  void do_on_released(page_ref p) override;
  /// The oldest resident page; the same page until it is released.
  std::optional<page_ref> do_victim() override;
  std::size_t do_size() const noexcept override { return index_.size(); }
  std::string_view do_name() const noexcept override { return "fifo"; }
  bool do_uses_accesses() const noexcept override { return false; }

  std::list<page_ref> order_;  // front: oldest resident
  std::unordered_map<page_ref, std::list<page_ref>::iterator, page_ref_hash> index_;
};

}  // namespace uvm::detail
