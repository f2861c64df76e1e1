#include "host/policy/arc_eviction.hpp"

#include <algorithm>

namespace uvm::detail {

void arc_eviction::do_on_resident(page_ref p) {
  if (t1_.contains(p) || t2_.contains(p)) {
    do_on_access(p);  // announced twice: a use
    return;
  }
  // The paper's deltas, from the ghost lists' sizes before the page leaves its ghost list.
  if (b1_.contains(p)) {
    const std::size_t delta = std::max<std::size_t>(1, b2_.size() / b1_.size());
    b1_.erase(p);
    t2_.touch(p);
    target_ += delta;  // at most c: below
  } else if (b2_.contains(p)) {
    const std::size_t delta = std::max<std::size_t>(1, b1_.size() / b2_.size());
    b2_.erase(p);
    t2_.touch(p);
    target_ = target_ > delta ? target_ - delta : 0;
  } else {
    t1_.touch(p);
  }
  peak_ = std::max(peak_, t1_.size() + t2_.size());
  target_ = std::min(target_, peak_);
  trim_ghosts();
}

void arc_eviction::do_on_access(page_ref p) {
  // A use of a page of T1 moves it to T2; one of T2 makes it T2's most recent.
  if (t1_.erase(p) || t2_.contains(p)) t2_.touch(p);
}

void arc_eviction::do_on_released(page_ref p) {
  if (t1_.erase(p)) {
    b1_.touch(p);
  } else if (t2_.erase(p)) {
    b2_.touch(p);
  }
  // A page not resident (never announced, or released already) is ignored: a ghost stays a
  // ghost. The lists' total does not change, so no ghost needs dropping.
}

std::optional<page_ref> arc_eviction::do_victim() {
  if (t1_.size() == 0 && t2_.size() == 0) return std::nullopt;
  if (t1_.size() != 0 && (t1_.size() > target_ || t2_.size() == 0)) return t1_.oldest();
  return t2_.oldest();
}

void arc_eviction::trim_ghosts() {
  while (t1_.size() + b1_.size() > peak_ && b1_.size() != 0) b1_.erase(*b1_.oldest());
  while (t1_.size() + t2_.size() + b1_.size() + b2_.size() > 2 * peak_) {
    recency_list& from = b2_.size() != 0 ? b2_ : b1_;
    if (from.size() == 0) break;
    from.erase(*from.oldest());
  }
}

}  // namespace uvm::detail
