#include "host/migration/device_page_table.hpp"

#include "host/common/check.hpp"

#include <sys/mman.h>

namespace uvm::detail {

namespace {

device_pte* map_host_table(std::size_t bytes) {
  // Anonymous memory reads as zeros: an all-invalid table, committed only where touched.
  void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (p == MAP_FAILED) throw_system(fmt::format("mmap of a {}-byte page-table shadow", bytes), errno);
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
  try {
    shadow_ = map_host_table(bytes_);
    bounce_ = map_host_table(bytes_);
    (void)backend_.register_host(shadow_, bytes_, host_registration::read_write);
    try {
      (void)backend_.register_host(bounce_, bytes_, host_registration::read_write);
    } catch (...) {
      backend_.unregister_host(shadow_);
      throw;
    }
  } catch (...) {
    if (shadow_ != nullptr) munmap(shadow_, bytes_);
    if (bounce_ != nullptr) munmap(bounce_, bytes_);
    backend_.free_device(device_);
    throw;
  }
}

device_page_table::~device_page_table() {
  backend_.unregister_host(bounce_);
  backend_.unregister_host(shadow_);
  munmap(bounce_, bytes_);
  munmap(shadow_, bytes_);
  backend_.free_device(device_);
}

void device_page_table::publish(std::size_t first, std::size_t count, const stream& s) {
  backend_.copy_entries_async(device_ + first, shadow_ + first, count, s);
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
