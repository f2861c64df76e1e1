#pragma once

// "sequential": streaming access touches the next pages soon, so move the window of
// `sequential_pages` pages after the fault with it. The window is fixed: resident and thrashing
// pages inside it are skipped (not replaced by pages further on), and it ends at the block's
// end, so at most `sequential_pages` pages are appended and none outside the block.

#include "host/policy/prefetch_policy.hpp"

namespace uvm::detail {

class sequential_prefetch final : public prefetch_policy {
 public:
  explicit sequential_prefetch(std::size_t pages) noexcept : pages_(pages) {}

 private:
  void do_expand(std::size_t faulting, const block_state& block,
                 std::vector<std::size_t>& out) override;
  std::string_view do_name() const noexcept override { return "sequential"; }

  std::size_t pages_;
};

}  // namespace uvm::detail
