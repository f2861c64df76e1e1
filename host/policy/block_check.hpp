#pragma once

// The preconditions every prefetch policy checks on what the migrator (or the replayer) hands it.

#include "host/common/check.hpp"
#include "host/policy/prefetch_policy.hpp"

namespace uvm::detail {

inline void expect_valid_block(std::size_t faulting, const block_state& b) {
  UVM_EXPECTS(b.page_count > 0, "prefetch: empty block at page {}", b.first_page);
  UVM_EXPECTS(faulting >= b.first_page && faulting - b.first_page < b.page_count,
              "prefetch: faulting page {} is outside its block [{}, {})", faulting, b.first_page,
              b.first_page + b.page_count);
  UVM_EXPECTS(b.resident && b.thrashing, "prefetch: block_state needs resident and thrashing");
}

}  // namespace uvm::detail
