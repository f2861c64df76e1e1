#include "host/migration/table_pool.hpp"

#include "host/common/check.hpp"

#include <algorithm>
#include <iterator>

#include <sys/mman.h>

namespace uvm::detail {

namespace {

// Host buffers are whole OS pages, so registering one never overlaps another registration.
std::size_t host_bytes_for(std::size_t entries) {
  const std::size_t os_page = 4096;
  return (entries * sizeof(device_pte) + os_page - 1) / os_page * os_page;
}

}  // namespace

table_pool::table_pool(backend& b, std::size_t entries, device_id device)
    : backend_(b), device_(device), default_entries_(std::max<std::size_t>(1, entries)) {
  grow(default_entries_);
}

table_pool::~table_pool() {
  for (arena& a : arenas_) free_arena(a);
}

table_pool::arena table_pool::make_arena(std::size_t entries) {
  arena a;
  a.entries = entries;
  a.host_bytes = host_bytes_for(entries);
  // Zeroed, like every device allocation: an all-invalid table.
  a.device =
      static_cast<device_pte*>(backend_.allocate_device(entries * sizeof(device_pte), device_));
  std::size_t registered = 0;
  try {
    for (device_pte*& h : a.host) {
      // Anonymous memory reads as zeros, committed only where touched (registration on a GPU
      // commits and pins it all).
      void* p = mmap(nullptr, a.host_bytes, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
      if (p == MAP_FAILED) {
        throw_system(fmt::format("mmap of a {}-byte page-table host buffer", a.host_bytes), errno);
      }
      h = static_cast<device_pte*>(p);
    }
    for (device_pte* h : a.host) {
      (void)backend_.register_host(h, a.host_bytes, host_registration::read_write);
      ++registered;
    }
  } catch (...) {
    for (std::size_t i = 0; i < registered; ++i) backend_.unregister_host(a.host[i]);
    for (device_pte* h : a.host) {
      if (h != nullptr) munmap(h, a.host_bytes);
    }
    backend_.free_device(a.device);
    throw;
  }
  return a;
}

void table_pool::free_arena(arena& a) noexcept {
  for (device_pte* h : a.host) {
    backend_.unregister_host(h);
    munmap(h, a.host_bytes);
  }
  backend_.free_device(a.device);
}

void table_pool::grow(std::size_t count) {
  arenas_.reserve(arenas_.size() + 1);  // nothing below may throw once the arena exists
  arena a = make_arena(std::max(count, default_entries_));
  try {
    a.free.emplace(0, run{a.entries, true});
  } catch (...) {
    free_arena(a);
    throw;
  }
  arenas_.push_back(std::move(a));
}

std::optional<table_pool::slice> table_pool::take(std::size_t count) noexcept {
  if (count == 0) return std::nullopt;
  for (std::size_t i = 0; i < arenas_.size(); ++i) {
    arena& a = arenas_[i];
    // First fit, preferring a clean run: a used one must be cleared by the copy engine.
    auto fit = a.free.end();
    for (auto it = a.free.begin(); it != a.free.end(); ++it) {
      if (it->second.count < count) continue;
      if (fit == a.free.end() || (it->second.clean && !fit->second.clean)) fit = it;
      if (fit->second.clean) break;
    }
    if (fit == a.free.end()) continue;
    const std::size_t first = fit->first;
    const run r = fit->second;
    auto node = a.free.extract(fit);  // reused for the rest of the run: nothing allocates
    if (r.count > count) {
      node.key() = first + count;
      node.mapped().count = r.count - count;
      a.free.insert(std::move(node));
    }
    slice s;
    s.device = a.device + first;
    s.shadow = a.host[0] + first;
    s.bounce = a.host[1] + first;
    s.staged = a.host[2] + first;
    s.count = count;
    s.arena = static_cast<std::uint32_t>(i);
    s.first = first;
    s.clean = r.clean;
    return s;
  }
  return std::nullopt;
}

void table_pool::give_back(const slice& s) noexcept {
  if (s.count == 0 || s.arena >= arenas_.size()) return;
  auto& free = arenas_[s.arena].free;
  // Merged with its neighbours (a merged run is clean no more), reusing their nodes so that
  // nothing allocates.
  const auto next = free.lower_bound(s.first);
  const bool joins_next = next != free.end() && next->first == s.first + s.count;
  const auto prev = next == free.begin() ? free.end() : std::prev(next);
  const bool joins_prev = prev != free.end() && prev->first + prev->second.count == s.first;
  if (joins_prev) {
    prev->second.count += s.count + (joins_next ? next->second.count : 0);
    prev->second.clean = false;
    if (joins_next) free.erase(next);
    return;
  }
  if (joins_next) {
    auto node = free.extract(next);
    node.key() = s.first;
    node.mapped() = run{node.mapped().count + s.count, false};
    free.insert(std::move(node));
    return;
  }
  try {
    free.emplace(s.first, run{s.count, false});
  } catch (...) {
    // Without memory for a node the run is lost to the pool: never handed out again.
  }
}

}  // namespace uvm::detail
