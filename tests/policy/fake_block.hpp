#pragma once

// A range's residency and thrashing state as sets, and the block_state a prefetch policy sees.

#include "host/policy/prefetch_policy.hpp"

#include <cstddef>
#include <initializer_list>
#include <set>
#include <vector>

namespace uvm::detail {

using page_list = std::vector<std::size_t>;

struct fake_range {
  std::set<std::size_t> resident;
  std::set<std::size_t> thrashing;

  /// The block [first, first + count) of this range; refers to *this.
  [[nodiscard]] block_state block(std::size_t first, std::size_t count,
                                  std::size_t page_bytes) const {
    return block_state{first, count, page_bytes,
                       [this](std::size_t p) { return resident.contains(p); },
                       [this](std::size_t p) { return thrashing.contains(p); }};
  }
  void make_resident(std::size_t lo, std::size_t hi) {
    for (std::size_t p = lo; p < hi; ++p) resident.insert(p);
  }
};

/// What `policy` appends for a fault at `faulting`.
inline page_list expand(prefetch_policy& policy, std::size_t faulting, const block_state& b) {
  page_list out;
  policy.expand(faulting, b, out);
  return out;
}

/// [lo, hi) without the pages in `except`.
inline page_list pages_between(std::size_t lo, std::size_t hi,
                               std::initializer_list<std::size_t> except = {}) {
  const std::set<std::size_t> skip(except);
  page_list out;
  for (std::size_t p = lo; p < hi; ++p) {
    if (!skip.contains(p)) out.push_back(p);
  }
  return out;
}

}  // namespace uvm::detail
