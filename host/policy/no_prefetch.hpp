#pragma once

// "none": only the faulting page moves (pure demand paging; the baseline for the others).

#include "host/policy/prefetch_policy.hpp"

namespace uvm::detail {

class no_prefetch final : public prefetch_policy {
 private:
  void do_expand(std::size_t, const block_state&, std::vector<std::size_t>&) override {}
  std::string_view do_name() const noexcept override { return "none"; }
};

}  // namespace uvm::detail
