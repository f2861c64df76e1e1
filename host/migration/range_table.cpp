#include "host/migration/range_table.hpp"

#include "host/common/check.hpp"
#include "host/telemetry/log.hpp"

#include <uvm/error.hpp>

#include <algorithm>
#include <utility>

#include <sys/mman.h>

namespace uvm::detail {

range_table::range_table(backend& b, std::size_t table_entries, device_id devices) : backend_(b) {
  UVM_EXPECTS(devices >= 1 && devices <= max_devices && devices <= b.device_count(),
              "range table: {} devices asked for; the backend has {}, a manager drives at most {}",
              devices, b.device_count(), max_devices);
  for (device_id d = 0; d < devices; ++d) pools_.emplace_back(b, table_entries, d);
}

void range_table::give_back(const std::array<table_pool::slice, max_devices>& entries) noexcept {
  for (device_id d = 0; d < devices(); ++d) {
    if (entries[d].count != 0) pools_[d].give_back(entries[d]);
  }
}

range_table::~range_table() {
  for (const grave& g : graveyard_) lay_to_rest(g);
}

std::optional<std::uint32_t> range_table::add(managed_range& r, bool quiet,
                                              std::span<const stream> clear_on,
                                              std::chrono::nanoseconds timeout) {
  std::array<table_pool::slice, max_devices> runs{};
  for (device_id d = 0; d < devices(); ++d) {
    std::optional<table_pool::slice> run = pools_[d].take(r.page_count());
    if (!run) {
      give_back(runs);
      return std::nullopt;
    }
    runs[d] = *run;
  }
  bool registered = false;
  try {
    std::array<std::unique_ptr<device_page_table>, max_devices> tables;
    for (device_id d = 0; d < devices(); ++d) {
      tables[d] = std::make_unique<device_page_table>(backend_, runs[d]);
      if (!runs[d].clean && !tables[d]->clear(clear_on[d], timeout)) {
        throw uvm::timeout("uvm::manager::allocate: clearing a page table took the fault timeout");
      }
    }
    const auto live = static_cast<std::size_t>(
        std::count_if(ranges_.begin(), ranges_.end(), [](auto* p) { return p != nullptr; }));
    graveyard_.reserve(graveyard_.size() + live + 1);
    const auto slot = std::find(ranges_.begin(), ranges_.end(), nullptr);
    const auto id = static_cast<std::size_t>(slot - ranges_.begin());
    if (entries_.size() <= id) entries_.resize(id + 1);
    if (slot == ranges_.end()) ranges_.push_back(nullptr);
    // Until it is registered, remote pages would be reached at the runtime view's own address:
    // where a late registration gives another one, the range maps no page remote.
    entry e;
    e.host = r.runtime_view();
    if (quiet) {
      e.host = static_cast<std::byte*>(
          backend_.register_host(r.runtime_view(), r.reserved(), host_registration::read_write));
      registered = true;
      e.registered = true;
      e.remote = true;
    } else {
      ++waiting_;
    }
    e.tables = std::move(tables);
    ranges_[id] = &r;
    entries_[id] = std::move(e);
    return static_cast<std::uint32_t>(id);
  } catch (...) {
    if (registered) backend_.unregister_host(r.runtime_view());
    give_back(runs);
    throw;
  }
}

void range_table::remove(managed_range& r, bool quiet) noexcept {
  const std::uint32_t id = r.device().range_id;
  if (range(id) != &r) return;
  entry e = std::exchange(entries_[id], entry{});
  ranges_[id] = nullptr;
  if (!e.registered) --waiting_;
  grave g{{}, e.registered ? r.runtime_view() : nullptr, r.reserved()};
  for (device_id d = 0; d < devices(); ++d) g.entries[d] = e.tables[d]->entries();
  if (quiet) {
    if (g.runtime != nullptr) backend_.unregister_host(g.runtime);
    give_back(g.entries);
    return;
  }
  if (g.runtime != nullptr) (void)r.release_runtime_view();  // unmapped once laid to rest
  graveyard_.push_back(g);                                   // reserved: no allocation
}

void range_table::lay_to_rest(const grave& g) noexcept {
  if (g.runtime != nullptr) {
    backend_.unregister_host(g.runtime);
    munmap(g.runtime, g.bytes);
  }
  give_back(g.entries);
}

void range_table::bury() noexcept {
  for (const grave& g : graveyard_) lay_to_rest(g);
  graveyard_.clear();
  register_waiting();
}

void range_table::register_waiting() noexcept {
  for (std::size_t id = 0; id < ranges_.size() && waiting_ != 0; ++id) {
    managed_range* r = ranges_[id];
    entry& e = entries_[id];
    if (r == nullptr || e.registered) continue;
    try {
      void* at =
          backend_.register_host(r->runtime_view(), r->reserved(), host_registration::read_write);
      e.registered = true;
      e.remote = at == e.host;  // the address its kernels were given
      --waiting_;
    } catch (const std::exception& ex) {
      // Tried again at the next quiet moment; meanwhile its pages move by pageable copies.
      if (!std::exchange(e.warned, true)) {
        log().warn(
            "registering the host memory of range {} failed ({}); its pages move by pageable "
            "copies meanwhile",
            id, ex.what());
      }
    }
  }
}

}  // namespace uvm::detail
