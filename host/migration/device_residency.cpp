#include "host/migration/device_residency.hpp"

#include "host/policy/guarded_policy.hpp"

#include <uvm/detail/device_pte.hpp>

#include <algorithm>
#include <bit>

namespace uvm::detail {

namespace {

std::uint32_t frames_for(const device_residency::settings& s) {
  const std::size_t n = std::max<std::size_t>(1, s.budget_bytes / s.page_size);
  return static_cast<std::uint32_t>(std::min<std::size_t>(n, max_frames));
}

}  // namespace

device_residency::device_residency(backend& b, const settings& s)
    : backend_(b),
      settings_(s),
      page_shift_(static_cast<unsigned>(std::countr_zero(s.page_size))),
      pool_(frames_for(s)),
      owners_(pool_.size()),
      eviction_(s.custom_eviction ? std::make_unique<guarded_eviction>(s.custom_eviction())
                                  : make_eviction_policy(s.eviction)) {
  frames_ = static_cast<std::byte*>(
      backend_.allocate_device(std::size_t{pool_.size()} << page_shift_, s.device,
                               device_fill::any));  // every page arrives by copy
}

device_residency::~device_residency() {
  backend_.free_device(frames_);
}

void device_residency::evicting(page_ref p) noexcept {
  try {
    evicted_.insert(p);
  } catch (...) {
    // Without memory the eviction counts towards thrashing: a detection at worst.
  }
  eviction_->on_released(p);
}

void device_residency::used(page_ref p, bool remote) {
  if (!remote) {
    eviction_->on_access(p);
    if (settings_.promote_remote) used_last_.insert(p);
    return;
  }
  if (!settings_.promote_remote) return;
  remote_use& u = remote_seen_[p];
  u.streak = u.last + 1 == harvests_ ? u.streak + 1 : 1;
  u.last = harvests_;
  if (u.streak == hot_streak) hot_.push_back(p);
}

std::vector<page_ref> device_residency::take_hot(std::size_t cap) {
  std::vector<page_ref> hot;
  hot.swap(hot_);
  std::sort(hot.begin(), hot.end());  // page order: neighbours share copies
  hot.erase(std::unique(hot.begin(), hot.end()), hot.end());
  if (hot.size() > cap) {
    hot_.assign(hot.begin() + static_cast<std::ptrdiff_t>(cap), hot.end());  // next time
    hot.resize(cap);
  }
  return hot;
}

void device_residency::forget(std::uint32_t range_id) noexcept {
  const auto of_range = [&](page_ref p) { return p.range_id == range_id; };
  std::erase_if(evicted_, of_range);
  std::erase_if(remote_seen_, [&](const auto& e) { return of_range(e.first); });
  std::erase_if(hot_, of_range);
  std::erase_if(used_last_, of_range);
}

}  // namespace uvm::detail
