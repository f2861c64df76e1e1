#include "host/policy/lirs_eviction.hpp"

#include <algorithm>

namespace uvm::detail {

bool lirs_eviction::is_lir(page_ref p) const {
  const auto it = state_.find(p);
  return it != state_.end() && it->second == state::lir;
}

std::size_t lirs_eviction::lir_target() const noexcept {
  const std::size_t hir = std::max<std::size_t>(1, peak_ / 100);  // the paper's 1%
  return peak_ > hir ? peak_ - hir : 0;
}

void lirs_eviction::do_on_resident(page_ref p) {
  const auto it = state_.find(p);
  if (it != state_.end() && it->second != state::gone) {
    do_on_access(p);  // announced twice: a use
    return;
  }
  peak_ = std::max(peak_, do_size() + 1);
  if (it != state_.end()) {
    // Back while still in S: its last two uses were within the LIR pages' span.
    gone_.erase(p);
    promote(p);
    return;
  }
  stack_.touch(p);
  if (lir_ < lir_target()) {
    state_.emplace(p, state::lir);
    ++lir_;
    return;
  }
  state_.emplace(p, state::hir);
  queue_.touch(p);
  prune();  // S may hold no LIR page yet
}

void lirs_eviction::do_on_access(page_ref p) {
  const auto it = state_.find(p);
  if (it == state_.end() || it->second == state::gone) return;
  if (it->second == state::lir) {
    const bool bottom = stack_.oldest() == p;
    stack_.touch(p);
    if (bottom) prune();
    return;
  }
  if (stack_.contains(p)) {
    queue_.erase(p);
    promote(p);
    return;
  }
  // A HIR page that S had forgotten: still HIR, but now in S and at the end of Q.
  stack_.touch(p);
  queue_.touch(p);
  prune();
}

void lirs_eviction::do_on_released(page_ref p) {
  const auto it = state_.find(p);
  if (it == state_.end() || it->second == state::gone) return;  // not resident: ignored
  if (it->second == state::hir) {
    queue_.erase(p);
    if (!stack_.contains(p)) {
      state_.erase(it);
      return;
    }
  } else {
    --lir_;
  }
  it->second = state::gone;
  gone_.touch(p);
  prune();  // `p` may have been the bottom of S
  while (gone_.size() > peak_) forget_gone(*gone_.oldest());
}

std::optional<page_ref> lirs_eviction::do_victim() {
  if (queue_.size() != 0) return queue_.oldest();
  return stack_.oldest();  // no resident HIR page: the least recent LIR page
}

void lirs_eviction::promote(page_ref p) {
  state_[p] = state::lir;
  ++lir_;
  stack_.touch(p);
  demote_excess();
}

void lirs_eviction::demote_excess() {
  while (lir_ > lir_target()) {
    const std::optional<page_ref> b = stack_.oldest();  // a LIR page: S is pruned
    if (!b) break;
    stack_.erase(*b);
    state_[*b] = state::hir;
    --lir_;
    queue_.touch(*b);
    prune();
  }
}

void lirs_eviction::prune() {
  while (const std::optional<page_ref> b = stack_.oldest()) {
    const auto it = state_.find(*b);
    if (it->second == state::lir) return;
    stack_.erase(*b);
    if (it->second == state::gone) {
      gone_.erase(*b);
      state_.erase(it);
    }
    // A resident HIR page leaves S and stays in Q.
  }
}

void lirs_eviction::forget_gone(page_ref p) {
  gone_.erase(p);
  stack_.erase(p);  // never the bottom of S: S is pruned
  state_.erase(p);
}

}  // namespace uvm::detail
