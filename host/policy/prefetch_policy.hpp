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

/// What a prefetch policy may ask about the block holding a fault.
struct block_state {
  std::size_t first_page = 0;  ///< first page of the block (in the range)
  std::size_t page_count = 0;  ///< pages in the block (fewer at the end of a range)
  std::size_t page_bytes = 0;  ///< the range's page size
  /// True if page `p` (index in the range) is already resident on the device.
  std::function<bool(std::size_t)> resident;
  /// True if page `p` is thrashing: never prefetch it.
  std::function<bool(std::size_t)> thrashing;
};

class prefetch_policy {
 public:
  virtual ~prefetch_policy() = default;

  /// Appends to `out` the pages of `block` (indices in the range, each inside the block, none
  /// resident, none thrashing, not `faulting`) to move along with `faulting`, in ascending
  /// order. The faulting page itself is not appended.
  void expand(std::size_t faulting, const block_state& block, std::vector<std::size_t>& out) {
    do_expand(faulting, block, out);
  }
  /// "none", "sequential", "tree"
  [[nodiscard]] std::string_view name() const noexcept { return do_name(); }

 private:
  virtual void do_expand(std::size_t faulting, const block_state& block,
                         std::vector<std::size_t>& out) = 0;
  virtual std::string_view do_name() const noexcept = 0;
};

struct prefetch_settings {
  std::size_t sequential_pages = 16;  ///< "sequential": pages after the fault, within the block
  double tree_threshold = 0.51;       ///< "tree": occupancy above which a subtree is filled
};

/// @return the policy called `name` ("none", "sequential" or "tree").
/// @throws uvm::invalid_argument listing the names for any other.
[[nodiscard]] std::unique_ptr<prefetch_policy> make_prefetch_policy(
    std::string_view name, const prefetch_settings& s = {});

}  // namespace uvm::detail
