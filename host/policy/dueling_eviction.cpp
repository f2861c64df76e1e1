#include "host/policy/dueling_eviction.hpp"

#include "host/common/check.hpp"

#include <algorithm>

namespace uvm::detail {

namespace {
// Misses halve after this many references per page of the device: the score follows the last
// few passes over the device, not the whole run.
constexpr std::uint64_t decay_per_page = 4;
constexpr std::uint64_t min_decay_period = 512;
}  // namespace

dueling_eviction::dueling_eviction() : dueling_eviction({"lru", "lfu", "adaptive"}) {}

dueling_eviction::dueling_eviction(std::initializer_list<std::string_view> candidates)
    : names_(candidates.begin(), candidates.end()) {
  UVM_EXPECTS(!names_.empty(), "dueling: no candidate");
  for (std::size_t k = 0; k < names_.size(); ++k) {
    real_.push_back(make_candidate(k));
    shadows_.push_back(shadow{make_candidate(k), decltype(shadow::resident)(&pool_)});
    if (names_[k] == "adaptive") leader_ = k;
  }
  misses_.assign(names_.size(), 0);
}

std::unique_ptr<eviction_policy> dueling_eviction::make_candidate(std::size_t k) const {
  return make_eviction_policy(names_[k]);
}

std::string_view dueling_eviction::leader() const noexcept {
  return real_[leader_]->name();
}

void dueling_eviction::do_on_resident(page_ref p) {
  for (auto& c : real_) {
    if (c) c->on_resident(p);
  }
  peak_ = std::max(peak_, real_[leader_]->size());
  if (!large_ && peak_ >= large_device) become_large();
  reference(p);
}

void dueling_eviction::do_on_access(page_ref p) {
  for (auto& c : real_) {
    if (c) c->on_access(p);
  }
  reference(p);
}

void dueling_eviction::do_on_released(page_ref p) {
  for (auto& c : real_) {
    if (c) c->on_released(p);
  }
}

bool dueling_eviction::sampled(page_ref p) const noexcept {
  if (!large_) return true;
  // A mix of both halves, so that neither every 16th page nor a range's pages fall together.
  std::uint64_t h = (std::uint64_t{p.range_id} << 32 | p.page) * 0x9e3779b97f4a7c15u;
  h ^= h >> 29;
  return (h & ((1u << sample_shift) - 1)) == 0;
}

void dueling_eviction::become_large() {
  large_ = true;
  for (std::size_t k = 0; k < names_.size(); ++k) {
    shadows_[k].policy = make_candidate(k);
    shadows_[k].resident.clear();
    if (k != leader_) real_[k].reset();
  }
  std::fill(misses_.begin(), misses_.end(), 0);
  since_decay_ = 0;
  // lru leads until the sampled duel says otherwise: the cheapest candidate per page moved.
  if (leader_ != 0) take_lead(0);
}

void dueling_eviction::take_lead(std::size_t k) {
  if (large_) {
    // The old leader hands its pages over in the order it would have evicted them, so the new
    // one starts from that ranking. A rare event: see the margin below.
    real_[k] = make_candidate(k);
    eviction_policy& old = *real_[leader_];
    for (std::size_t n = old.size(); n != 0; --n) {
      const std::optional<page_ref> v = old.victim();
      if (!v) break;
      old.on_released(*v);
      real_[k]->on_resident(*v);
    }
    real_[leader_].reset();
  }
  leader_ = k;
}

void dueling_eviction::reference(page_ref p) {
  if (!sampled(p)) return;
  const std::size_t shift = large_ ? sample_shift : 0;
  const std::size_t capacity = std::max<std::size_t>(1, peak_ >> shift);
  for (std::size_t k = 0; k < names_.size(); ++k) {
    shadow& s = shadows_[k];
    if (s.resident.contains(p)) {
      s.policy->on_access(p);
      continue;
    }
    ++misses_[k];
    while (s.resident.size() >= capacity) {
      const std::optional<page_ref> v = s.policy->victim();
      if (!v) break;
      s.policy->on_released(*v);
      s.resident.erase(*v);
    }
    s.resident.insert(p);
    s.policy->on_resident(p);
  }
  if (++since_decay_ >=
      std::max<std::uint64_t>(min_decay_period >> shift, decay_per_page * capacity)) {
    since_decay_ = 0;
    for (std::uint64_t& m : misses_) m /= 2;
  }
  // A challenger must miss clearly less (an eighth) to take the lead: each switch costs the
  // resident set the leader built, so near-equals do not take turns.
  std::size_t best = leader_;
  for (std::size_t k = 0; k < names_.size(); ++k) {
    if (8 * misses_[k] < 7 * misses_[best]) best = k;
  }
  if (best != leader_) take_lead(best);
}

}  // namespace uvm::detail
