#include "host/policy/adaptive_eviction.hpp"

#include <algorithm>

namespace uvm::detail {

namespace {
constexpr double weight = 1.0 / 32;  // the average covers the last few dozen faults
}

void adaptive_eviction::do_on_resident(page_ref p) {
  if (!order_.contains(p)) {
    const bool returning = ghosts_.erase(p);
    regret_ += weight * ((returning ? 1.0 : 0.0) - regret_);
  }
  order_.touch(p);
  peak_ = std::max(peak_, order_.size());
}

void adaptive_eviction::do_on_released(page_ref p) {
  if (!order_.erase(p)) return;
  ghosts_.touch(p);
  while (ghosts_.size() > 2 * peak_) ghosts_.erase(*ghosts_.oldest());
}

}  // namespace uvm::detail
