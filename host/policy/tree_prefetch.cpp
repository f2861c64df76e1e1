#include "host/policy/tree_prefetch.hpp"

#include "host/policy/block_check.hpp"

#include <algorithm>
#include <cstdint>

namespace uvm::detail {

tree_prefetch::tree_prefetch(double threshold) : threshold_(threshold) {
  UVM_EXPECTS(threshold >= 0.0 && threshold <= 1.0,
              "tree prefetch: threshold {} is not within [0, 1]", threshold);
}

void tree_prefetch::do_expand(std::size_t faulting, const block_state& block,
                              std::vector<std::size_t>& out) {
  expect_valid_block(faulting, block);
  UVM_EXPECTS(block.page_bytes > 0 &&
                  (block.page_bytes >= big_page_bytes || big_page_bytes % block.page_bytes == 0),
              "tree prefetch: page size {} does not divide 64 KiB", block.page_bytes);
  const std::size_t n = block.page_count;
  const std::size_t leaf_pages =
      block.page_bytes < big_page_bytes ? big_page_bytes / block.page_bytes : 1;
  const std::size_t leaves = (n + leaf_pages - 1) / leaf_pages;

  // Page states, indexed from the block's first page. A block is at most a few hundred pages,
  // so recounting per level is cheaper than keeping counts per node.
  enum : std::uint8_t { movable, resident, taken, thrashing };
  std::vector<std::uint8_t> state(n);
  for (std::size_t i = 0; i < n; ++i) {
    const std::size_t p = block.first_page + i;
    state[i] = block.resident(p) ? resident : block.thrashing(p) ? thrashing : movable;
  }
  const std::size_t f = faulting - block.first_page;
  if (state[f] != resident) state[f] = taken;

  auto take = [&](std::size_t lo, std::size_t hi) {
    for (std::size_t i = lo; i < hi; ++i) {
      if (state[i] == movable) state[i] = taken;
    }
  };
  auto occupied = [&](std::size_t lo, std::size_t hi) {
    return static_cast<std::size_t>(
        std::count_if(state.begin() + lo, state.begin() + hi,
                      [](auto s) { return s == resident || s == taken; }));
  };

  // 64 KiB big page first, unconditionally.
  std::size_t lo = f / leaf_pages * leaf_pages;
  take(lo, std::min(lo + leaf_pages, n));
  // Ancestors of `span` leaves, until the node that covers every leaf has been considered.
  for (std::size_t span = 2; span / 2 < leaves; span *= 2) {
    const std::size_t node_pages = span * leaf_pages;
    lo = f / node_pages * node_pages;
    const std::size_t hi = std::min(lo + node_pages, n);  // missing pages are not countable
    if (!(static_cast<double>(occupied(lo, hi)) > threshold_ * static_cast<double>(hi - lo))) break;
    take(lo, hi);
  }

  for (std::size_t i = 0; i < n; ++i) {
    if (state[i] == taken && i != f) out.push_back(block.first_page + i);
  }
}

}  // namespace uvm::detail
