#include "host/migration/device_page_table.hpp"

#include <cstring>

namespace uvm::detail {

device_page_table::device_page_table(backend& b, const table_pool::slice& entries) noexcept
    : backend_(b),
      entries_(entries),
      pages_(entries.count),
      device_(entries.device),
      shadow_(entries.shadow),
      bounce_(entries.bounce),
      staged_(entries.staged) {}

bool device_page_table::clear(const stream& s, std::chrono::nanoseconds timeout) {
  std::memset(shadow_, 0, pages_ * sizeof(device_pte));
  masked_ = false;
  stale_ = false;
  backend_.copy_entries_async(device_, shadow_, pages_, s);
  return backend_.wait(backend_.record(s), timeout);
}

namespace {
constexpr device_pte masked_entry(device_pte e) noexcept {
  return (e & ~(pte_valid | pte_writable | pte_fault_pending)) | pte_denied;
}
}  // namespace

void device_page_table::publish(std::size_t first, std::size_t count, const stream& s) {
  if (!masked_) {
    backend_.copy_entries_async(device_ + first, shadow_ + first, count, s);
    return;
  }
  // Staged when enqueued: the caller set the shadow first, and keeps the pages claimed until the
  // copy lands, so the copy sends what it would have read from the shadow.
  for (std::size_t p = first; p < first + count; ++p) staged_[p] = masked_entry(shadow_[p]);
  backend_.copy_entries_async(device_ + first, staged_ + first, count, s);
}

void device_page_table::mask(const stream& s) {
  for (std::size_t p = 0; p < pages_; ++p) staged_[p] = masked_entry(shadow_[p]);
  backend_.copy_entries_async(device_, staged_, pages_, s);
  masked_ = true;
}

void device_page_table::unmask(const stream& s) {
  backend_.copy_entries_async(device_, shadow_, pages_, s);
  masked_ = false;  // only once the unmasked entries are on their way
}

bool device_page_table::refresh_device_bits(const stream& s, std::chrono::nanoseconds timeout,
                                            const std::function<bool(std::size_t)>& may_merge) {
  backend_.copy_async(bounce_, device_, pages_ * sizeof(device_pte), copy_kind::device_to_host, s);
  if (!backend_.wait(backend_.record(s), timeout)) return false;
  for (std::size_t p = 0; p < pages_; ++p) {
    const device_pte bits = bounce_[p] & (pte_dirty | pte_accessed);
    if (bits != 0 && (shadow_[p] & pte_valid) != 0 && may_merge(p)) shadow_[p] |= bits;
  }
  return true;
}

}  // namespace uvm::detail
