#include "host/policy/adaptive_eviction.hpp"

#include <algorithm>

namespace uvm::detail {

namespace {
constexpr double weight = 1.0 / 32;  // the average covers the last few dozen faults
}

void adaptive_eviction::do_on_resident(page_ref p) {
  if (auto it = index_.find(p); it != index_.end()) {
    order_.splice(order_.end(), order_, it->second);
    return;
  }
  bool returning = false;
  if (auto g = ghost_index_.find(p); g != ghost_index_.end()) {
    ghosts_.erase(g->second);
    ghost_index_.erase(g);
    returning = true;
  }
  regret_ += weight * ((returning ? 1.0 : 0.0) - regret_);
  index_.emplace(p, order_.insert(order_.end(), p));
  peak_ = std::max(peak_, index_.size());
}

void adaptive_eviction::do_on_access(page_ref p) {
  if (auto it = index_.find(p); it != index_.end()) {
    order_.splice(order_.end(), order_, it->second);
  }
}

void adaptive_eviction::do_on_released(page_ref p) {
  auto it = index_.find(p);
  if (it == index_.end()) return;
  order_.erase(it->second);
  index_.erase(it);
  ghost_index_.emplace(p, ghosts_.insert(ghosts_.end(), p));
  while (ghosts_.size() > 2 * peak_) {
    ghost_index_.erase(ghosts_.front());
    ghosts_.pop_front();
  }
}

std::optional<page_ref> adaptive_eviction::do_victim() {
  if (order_.empty()) return std::nullopt;
  return looping() ? order_.back() : order_.front();
}

}  // namespace uvm::detail
