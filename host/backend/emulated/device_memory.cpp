#include "host/backend/emulated/device_memory.hpp"

#include "host/common/check.hpp"

#include <cerrno>
#include <cstdint>
#include <iterator>
#include <new>

#include <fmt/format.h>
#include <pthread.h>
#include <sys/mman.h>

namespace uvm::detail {

namespace {

constexpr std::size_t huge = std::size_t{2} << 20;

std::size_t rounded(std::size_t bytes) noexcept {
  return (bytes + 4095) & ~std::size_t{4095};
}

void* map_fresh(std::size_t bytes) {
  const std::size_t reserved = bytes + huge;
  void* raw = mmap(nullptr, reserved, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (raw == MAP_FAILED) {
    throw_system(fmt::format("mmap of {} bytes of emulated device memory", bytes), errno);
  }
  // Keep the 2 MiB-aligned part only: the mapping is then exactly [p, p + bytes).
  const auto start = reinterpret_cast<std::uintptr_t>(raw);
  const std::uintptr_t aligned = (start + huge - 1) & ~(huge - 1);
  if (aligned > start) munmap(raw, aligned - start);
  const std::uintptr_t end = start + reserved;
  const std::uintptr_t used_end = aligned + bytes;
  if (end > used_end) munmap(reinterpret_cast<void*>(used_end), end - used_end);
  void* p = reinterpret_cast<void*>(aligned);
  (void)madvise(p, bytes, MADV_HUGEPAGE);  // advice only: without it, 4 KiB pages
  return p;
}

}  // namespace

device_memory& device_memory::process() {
  static device_memory* const store = new device_memory;  // never destroyed: blocks outlive exit
  // A child of fork() has one thread: a parent's thread that held the mutex at fork() is gone,
  // and the list may be half changed, so the child starts with none kept (their copies stay
  // mapped in it, unused).
  static const bool forgets_in_child = [] {
    return pthread_atfork(nullptr, nullptr, [] {
             new (&store->mutex_) std::mutex();
             store->kept_.clear();
           }) == 0;
  }();
  (void)forgets_in_child;
  return *store;
}

device_memory::block device_memory::map(std::size_t bytes, bool zeros) {
  bytes = rounded(bytes);
  if (!zeros) {
    const std::lock_guard lock(mutex_);
    for (auto it = kept_.rbegin(); it != kept_.rend(); ++it) {  // the newest: likely resident
      if (it->bytes == bytes) {
        const block b = *it;
        kept_.erase(std::next(it).base());
        return b;
      }
    }
  }
  return {map_fresh(bytes), bytes, !zeros};
}

void device_memory::unmap(const block& b) noexcept {
  if (!b.reusable) {
    munmap(b.p, b.bytes);
    return;
  }
  // Lazily freed: the kernel may take the pages back under pressure instead of swapping them.
  (void)madvise(b.p, b.bytes, MADV_FREE);
  block dropped;
  {
    const std::lock_guard lock(mutex_);
    if (kept_.size() == max_kept) {
      dropped = kept_.front();
      kept_.erase(kept_.begin());
    }
    kept_.push_back(b);  // within the capacity reserved: never throws
  }
  if (dropped.p != nullptr) munmap(dropped.p, dropped.bytes);
}

std::size_t device_memory::kept() const {
  const std::lock_guard lock(mutex_);
  return kept_.size();
}

}  // namespace uvm::detail
