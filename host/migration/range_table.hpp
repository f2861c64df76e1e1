#pragma once

// The ranges a migrator manages, by id, with what the device needs of each: its page table (a run
// of the table pool) and whether its host memory is registered. What a range freed while kernels
// run leaves behind (its table's entries, and its runtime view, registered and mapped) waits in
// the graveyard until none is in flight: CUDA may order a free or an unregistration after the
// kernels in flight (host/migration/late_registrations.hpp says why, and what registers a range
// allocated while kernels run).
//
// Not thread-safe: the migrator's lock guards it. The calls said to need no kernel in flight
// must be made while none is and none can be enqueued (the migrator holds its lock then).

#include "host/backend/backend.hpp"
#include "host/coherence/managed_range.hpp"
#include "host/migration/device_page_table.hpp"
#include "host/migration/table_pool.hpp"

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <span>
#include <vector>

namespace uvm::detail {

class range_table {
 public:
  /// Makes a table pool for each of devices 0 .. `devices` - 1, each with a first arena of
  /// `table_entries` entries: a range has one page table per device.
  /// @throws as table_pool.
  range_table(backend& b, std::size_t table_entries, device_id devices = 1);
  /// Lays the graveyard to rest: no kernel may be in flight.
  ~range_table();
  range_table(const range_table&) = delete;
  range_table& operator=(const range_table&) = delete;

  /// Adds `r`: an id, and a table of its pages on each device from that device's pool (cleared
  /// through the copy engine on `clear_on[d]`, a stream of device d, if its entries were used
  /// before). With `quiet` (no kernel in flight) its host memory is registered now; otherwise it
  /// waits (waiting(), register_waiting()).
  /// @return its id, or nullopt if a pool has no room: grow() them with no kernel in flight.
  /// @throws uvm::timeout if clearing a table takes `timeout`; as backend::register_host.
  [[nodiscard]] std::optional<std::uint32_t> add(managed_range& r, bool quiet,
                                                 std::span<const stream> clear_on,
                                                 std::chrono::nanoseconds timeout);
  /// Adds an arena for at least `pages` entries to every device's pool. No kernel may be in
  /// flight.
  void grow(std::size_t pages) {
    for (table_pool& p : pools_) p.grow(pages);
  }
  /// The devices each range has a table on.
  [[nodiscard]] device_id devices() const noexcept { return static_cast<device_id>(pools_.size()); }
  /// Removes `r` if it is here. With `quiet` (no kernel in flight) its registration and table are
  /// released now; otherwise they wait in the graveyard, and its runtime view outlives `r`.
  void remove(managed_range& r, bool quiet) noexcept;

  /// Releases what the graveyard holds and registers the waiting ranges. No kernel may be in
  /// flight, nor start before it returns.
  void bury() noexcept;
  /// Registers the waiting ranges (a failure is logged once per range; it waits on). No kernel
  /// may be in flight, nor start before it returns.
  void register_waiting() noexcept;
  /// Ranges whose host memory is not registered yet.
  [[nodiscard]] std::size_t waiting() const noexcept { return waiting_; }
  [[nodiscard]] bool graveyard_empty() const noexcept { return graveyard_.empty(); }

  /// The live range with id `id`, or null.
  [[nodiscard]] managed_range* range(std::uint32_t id) const noexcept {
    return id < ranges_.size() ? ranges_[id] : nullptr;
  }
  /// Every id's range (null where free).
  [[nodiscard]] std::span<managed_range* const> ranges() const noexcept { return ranges_; }
  /// The table of a live range on device `d`.
  [[nodiscard]] device_page_table& table(std::uint32_t id, device_id d = 0) const noexcept {
    return *entries_[id].tables[d];
  }
  /// Where device code reaches the range's host pages (remote pages).
  [[nodiscard]] std::byte* host_address(std::uint32_t id) const noexcept {
    return entries_[id].host;
  }
  /// Whether the range's host memory is registered.
  [[nodiscard]] bool registered(std::uint32_t id) const noexcept { return entries_[id].registered; }
  /// Whether a page of the range may be mapped remote: its host memory is registered, at the
  /// address its kernels were given.
  [[nodiscard]] bool reachable(std::uint32_t id) const noexcept { return entries_[id].remote; }

 private:
  struct entry {
    std::array<std::unique_ptr<device_page_table>, max_devices> tables;  // by device
    std::byte* host = nullptr;  // the device's address of the runtime view
    bool registered = false;
    bool remote = false;
    bool warned = false;  // a failed late registration was logged
  };
  struct grave {
    std::array<table_pool::slice, max_devices> entries;  // by device
    std::byte* runtime = nullptr;  // null: not registered (unmapped with its range)
    std::size_t bytes = 0;
  };
  void lay_to_rest(const grave& g) noexcept;  // no kernel in flight

  // Returns the tables' entries to their pools.
  void give_back(const std::array<table_pool::slice, max_devices>& entries) noexcept;

  backend& backend_;
  std::deque<table_pool> pools_;        // by device; first: they outlive the tables
  std::vector<managed_range*> ranges_;  // by id; null where free
  std::vector<entry> entries_;          // by id
  std::size_t waiting_ = 0;
  // Its capacity covers every live range, so that remove() never allocates.
  std::vector<grave> graveyard_;
};

}  // namespace uvm::detail
