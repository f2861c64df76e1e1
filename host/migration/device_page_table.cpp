#include "host/migration/device_page_table.hpp"

#include "host/common/check.hpp"

#include <sys/mman.h>

namespace uvm::detail {

namespace {

device_pte* map_host_table(std::size_t bytes) {
  // Anonymous memory reads as zeros: an all-invalid table, committed only where touched.
  void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (p == MAP_FAILED)
    throw_system(fmt::format("mmap of a {}-byte page-table shadow", bytes), errno);
  return static_cast<device_pte*>(p);
}

// Host tables are whole OS pages, so registering one never overlaps another registration.
std::size_t table_bytes(std::size_t pages) {
  const std::size_t os_page = 4096;
  return (pages * sizeof(device_pte) + os_page - 1) / os_page * os_page;
}

}  // namespace

device_page_table::device_page_table(backend& b, std::size_t pages)
    : backend_(b), pages_(pages), bytes_(table_bytes(pages)) {
  device_ = static_cast<device_pte*>(backend_.allocate_device(pages * sizeof(device_pte)));
  device_pte** const buffers[] = {&shadow_, &bounce_, &staged_};
  std::size_t registered = 0;
  try {
    for (device_pte** b : buffers) *b = map_host_table(bytes_);
    for (device_pte** b : buffers) {
      (void)backend_.register_host(*b, bytes_, host_registration::read_write);
      ++registered;
    }
  } catch (...) {
    for (std::size_t i = 0; i < registered; ++i) backend_.unregister_host(*buffers[i]);
    for (device_pte** b : buffers) {
      if (*b != nullptr) munmap(*b, bytes_);
    }
    backend_.free_device(device_);
    throw;
  }
}

device_page_table::~device_page_table() {
  for (device_pte* b : {staged_, bounce_, shadow_}) {
    backend_.unregister_host(b);
    munmap(b, bytes_);
  }
  backend_.free_device(device_);
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
