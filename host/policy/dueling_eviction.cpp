#include "host/policy/dueling_eviction.hpp"

#include "host/policy/adaptive_eviction.hpp"
#include "host/policy/lfu_eviction.hpp"
#include "host/policy/lru_eviction.hpp"

#include <algorithm>

namespace uvm::detail {

namespace {
// Misses halve after this many references per page of the device: the score follows the last
// few passes over the device, not the whole run.
constexpr std::uint64_t decay_per_page = 4;
constexpr std::uint64_t min_decay_period = 512;

template <std::size_t N>
std::array<std::unique_ptr<eviction_policy>, N> make_candidates() {
  return {std::make_unique<lru_eviction>(), std::make_unique<lfu_eviction>(),
          std::make_unique<adaptive_eviction>()};
}
}  // namespace

dueling_eviction::dueling_eviction() : real_(make_candidates<candidates>()) {
  auto policies = make_candidates<candidates>();
  for (std::size_t k = 0; k < candidates; ++k) shadows_[k].policy = std::move(policies[k]);
}

std::string_view dueling_eviction::leader() const noexcept { return real_[leader_]->name(); }

void dueling_eviction::do_on_resident(page_ref p) {
  for (auto& c : real_) c->on_resident(p);
  peak_ = std::max(peak_, real_[0]->size());
  reference(p);
}

void dueling_eviction::do_on_access(page_ref p) {
  for (auto& c : real_) c->on_access(p);
  reference(p);
}

void dueling_eviction::do_on_released(page_ref p) {
  for (auto& c : real_) c->on_released(p);
}

void dueling_eviction::reference(page_ref p) {
  for (std::size_t k = 0; k < candidates; ++k) {
    shadow& s = shadows_[k];
    if (s.resident.contains(p)) {
      s.policy->on_access(p);
      continue;
    }
    ++misses_[k];
    while (s.resident.size() >= std::max<std::size_t>(1, peak_)) {
      const std::optional<page_ref> v = s.policy->victim();
      if (!v) break;
      s.policy->on_released(*v);
      s.resident.erase(*v);
    }
    s.resident.insert(p);
    s.policy->on_resident(p);
  }
  if (++since_decay_ >= std::max<std::uint64_t>(min_decay_period, decay_per_page * peak_)) {
    since_decay_ = 0;
    for (std::uint64_t& m : misses_) m /= 2;
  }
  // A challenger must miss clearly less (an eighth) to take the lead: each switch costs the
  // resident set the leader built, so near-equals do not take turns.
  for (std::size_t k = 0; k < candidates; ++k) {
    if (8 * misses_[k] < 7 * misses_[leader_]) leader_ = k;
  }
}

}  // namespace uvm::detail
