#include "host/policy/prefetch_policy.hpp"

#include "host/common/check.hpp"
#include "host/policy/no_prefetch.hpp"
#include "host/policy/sequential_prefetch.hpp"
#include "host/policy/tree_prefetch.hpp"

namespace uvm::detail {

std::unique_ptr<prefetch_policy> make_prefetch_policy(std::string_view name,
                                                      const prefetch_settings& s) {
  if (name == "none") return std::make_unique<no_prefetch>();
  if (name == "sequential") return std::make_unique<sequential_prefetch>(s.sequential_pages);
  if (name == "tree") return std::make_unique<tree_prefetch>(s.tree_threshold);
  throw_invalid("unknown prefetch policy '{}' (valid: none, sequential, tree)", name);
}

}  // namespace uvm::detail
