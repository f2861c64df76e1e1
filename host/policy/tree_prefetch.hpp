#pragma once

// "tree": density prefetching as NVIDIA's driver does it (uvm_perf_prefetch.c): once most of a
// region is (or is about to be) on the device, the rest of it will likely be touched too, so it
// moves in the same batch instead of faulting page by page.
//
// Exact semantics, inside the block that holds the fault (never outside it):
//  1. Leaves are 64 KiB big pages: 64 KiB / page_bytes pages each when page_bytes < 64 KiB,
//     otherwise one page each. Leaves are aligned to the block's first page.
//  2. The faulting page's whole leaf is taken (its non-resident, non-thrashing pages).
//  3. Then, for each ancestor of that leaf in a binary tree over the block's leaves (2 leaves,
//     4, 8, ... up to the node that covers the whole block): occupancy = (resident pages +
//     pages taken so far, the faulting page included) / pages in the node. If occupancy is
//     strictly greater than `tree_threshold`, the node's non-resident, non-thrashing pages are
//     taken and the walk goes on; otherwise it stops there.
//  4. A short block (end of a range, page_count not a whole power-of-two number of leaves) is a
//     tree whose missing leaves (and the missing pages of a partial last leaf) are absent: they
//     count neither as occupied nor in the node's page count, and are never taken. The tree is
//     over the block's own leaves, rounded up to a power of two.
//  The faulting page counts as taken even if it is thrashing (it moves anyway); a thrashing
//  page counts as unoccupied otherwise. Output: taken pages except the fault, ascending, unique.

#include "host/policy/prefetch_policy.hpp"

namespace uvm::detail {

class tree_prefetch final : public prefetch_policy {
 public:
  /// Big pages: the leaves of the tree.
  static constexpr std::size_t big_page_bytes = std::size_t{64} << 10;

  /// @throws uvm::invalid_argument unless 0 <= threshold <= 1.
  explicit tree_prefetch(double threshold);

 private:
  void do_expand(std::size_t faulting, const block_state& block,
                 std::vector<std::size_t>& out) override;
  std::string_view do_name() const noexcept override { return "tree"; }

  double threshold_;
};

}  // namespace uvm::detail
