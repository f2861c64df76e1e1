#pragma once

// Which other pages move to the device together with a faulting page. Non-virtual interface,
// deterministic, no data movement (see eviction_policy.hpp). Prefetch never crosses the 2 MiB
// block that holds the faulting page.

#include "host/policy/page_ref.hpp"

#include <cstddef>
#include <functional>
#include <memory>
#include <string_view>
#include <vector>

namespace uvm::detail {

using uvm::block_state;  // the public interfaces (uvm/policy.hpp)
using uvm::prefetch_policy;

struct prefetch_settings {
  std::size_t sequential_pages = 16;  ///< "sequential": pages after the fault, within the block
  double tree_threshold = 0.51;       ///< "tree": occupancy above which a subtree is filled
};

/// @return the policy called `name` ("none", "sequential" or "tree").
/// @throws uvm::invalid_argument listing the names for any other.
[[nodiscard]] std::unique_ptr<prefetch_policy> make_prefetch_policy(
    std::string_view name, const prefetch_settings& s = {});

}  // namespace uvm::detail
