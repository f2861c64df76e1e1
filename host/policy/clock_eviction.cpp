#include "host/policy/clock_eviction.hpp"

namespace uvm::detail {

clock_eviction::iterator clock_eviction::next(iterator it) noexcept {
  ++it;
  return it == ring_.end() ? ring_.begin() : it;
}

void clock_eviction::do_on_resident(page_ref p) {
  auto it = index_.find(p);
  if (it != index_.end()) {
    it->second->referenced = true;
    return;
  }
  // Inserting before the hand puts the page last in the sweep: residency order.
  iterator pos = ring_.insert(hand_, entry{p, true});
  if (hand_ == ring_.end()) hand_ = pos;  // the ring was empty
  index_.emplace(p, pos);
}

void clock_eviction::do_on_access(page_ref p) {
  auto it = index_.find(p);
  if (it != index_.end()) it->second->referenced = true;
}

void clock_eviction::do_on_released(page_ref p) {
  auto it = index_.find(p);
  if (it == index_.end()) return;
  if (hand_ == it->second) hand_ = ring_.size() == 1 ? ring_.end() : next(hand_);
  ring_.erase(it->second);
  index_.erase(it);
}

std::optional<page_ref> clock_eviction::do_victim() {
  if (ring_.empty()) return std::nullopt;
  // Terminates within one full turn: every bit passed is cleared.
  while (hand_->referenced) {
    hand_->referenced = false;
    hand_ = next(hand_);
  }
  return hand_->page;
}

}  // namespace uvm::detail
