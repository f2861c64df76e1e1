#include "host/policy/sequential_prefetch.hpp"

#include "host/policy/block_check.hpp"

#include <algorithm>

namespace uvm::detail {

void sequential_prefetch::do_expand(std::size_t faulting, const block_state& block,
                                    std::vector<std::size_t>& out) {
  expect_valid_block(faulting, block);
  const std::size_t block_end = block.first_page + block.page_count;
  // faulting < block_end, so this neither overflows nor is empty-but-negative.
  const std::size_t end = faulting + 1 + std::min(pages_, block_end - faulting - 1);
  for (std::size_t p = faulting + 1; p < end; ++p) {
    if (!block.resident(p) && !block.thrashing(p)) out.push_back(p);
  }
}

}  // namespace uvm::detail
