#pragma once

// Which device-resident page gives up its frame when a frame is needed: the public interface
// (uvm/policy.hpp) and the shipped policies by name. Policies only decide: they never move data
// or touch page tables, so the same objects run inside the runtime and inside uvm-replay,
// deterministically.

#include "host/policy/page_ref.hpp"

#include <cstddef>
#include <memory>
#include <optional>
#include <string_view>

namespace uvm::detail {

using uvm::eviction_policy;  // the public interface (uvm/policy.hpp)

/// @return the policy called `name` ("fifo", "lru", "clock", "adaptive", "lfu", "dueling",
/// "arc" or "lirs").
/// @throws uvm::invalid_argument listing the names for any other.
[[nodiscard]] std::unique_ptr<eviction_policy> make_eviction_policy(std::string_view name);

}  // namespace uvm::detail
