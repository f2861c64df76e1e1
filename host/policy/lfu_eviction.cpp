#include "host/policy/lfu_eviction.hpp"

#include <algorithm>
#include <iterator>

namespace uvm::detail {

namespace {
// Counts halve after this many references per page the device holds: long enough to tell hot
// from cold, short enough to follow a change of phase.
constexpr std::uint64_t aging_per_page = 8;
constexpr std::uint64_t min_aging_period = 1024;
}  // namespace

std::uint32_t lfu_eviction::count(page_ref p) const noexcept {
  const auto it = pages_.find(p);
  return it == pages_.end() ? 0 : it->second.count;
}

void lfu_eviction::use(page_ref p, entry& e) {
  if (e.resident) order_.erase({e.count, e.stamp, p});
  e.count = e.count == UINT32_MAX ? e.count : e.count + 1;
  e.stamp = ++clock_;
  if (e.resident) order_.insert({e.count, e.stamp, p});
  if (++since_aging_ >= std::max<std::uint64_t>(min_aging_period, aging_per_page * peak_)) age();
}

void lfu_eviction::do_on_resident(page_ref p) {
  entry& e = pages_[p];
  if (!e.resident) {
    e.resident = true;
    order_.insert({e.count, e.stamp, p});
    peak_ = std::max(peak_, order_.size());
  }
  use(p, e);
}

void lfu_eviction::do_on_access(page_ref p) {
  const auto it = pages_.find(p);
  if (it == pages_.end() || !it->second.resident) return;  // no frame to keep
  use(p, it->second);
}

void lfu_eviction::do_on_released(page_ref p) {
  const auto it = pages_.find(p);
  if (it == pages_.end() || !it->second.resident) return;
  order_.erase({it->second.count, it->second.stamp, p});
  it->second.resident = false;
  if (it->second.count == 0) pages_.erase(it);
}

std::optional<page_ref> lfu_eviction::do_victim() {
  if (order_.empty()) return std::nullopt;
  return std::get<2>(*order_.begin());
}

void lfu_eviction::age() {
  since_aging_ = 0;
  order_.clear();
  for (auto it = pages_.begin(); it != pages_.end();) {
    it->second.count /= 2;
    if (it->second.resident) {
      order_.insert({it->second.count, it->second.stamp, it->first});
      ++it;
    } else if (it->second.count == 0) {
      it = pages_.erase(it);  // history that no longer counts
    } else {
      ++it;
    }
  }
}

}  // namespace uvm::detail
