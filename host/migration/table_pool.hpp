#pragma once

// The memory of every range's device page table, carved from arenas so that allocating a range
// while kernels run allocates and registers nothing: CUDA may order an allocation or a
// registration after the kernels in flight, and a kernel waiting on a fault would then never
// end. An arena is one device allocation of entries and three registered host buffers of as
// many entries (the shadow, the bounce buffer the device table is read back into, and the
// staging buffer of masked entries); a table is a run of entries at the same place in all four.
//
// The first arena is made with the pool, at start. grow() adds one; the caller makes sure no
// kernel is in flight meanwhile (the migrator calls it under its lock, with none in flight).
// Not thread-safe: the migrator's lock guards it.

#include "host/backend/backend.hpp"

#include <uvm/detail/device_pte.hpp>

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <vector>

namespace uvm::detail {

class table_pool {
 public:
  /// A table's entries: the same run in the device table and in each host buffer.
  struct slice {
    device_pte* device = nullptr;
    device_pte* shadow = nullptr;  // registered host memory, like the two below
    device_pte* bounce = nullptr;
    device_pte* staged = nullptr;
    std::size_t count = 0;
    std::uint32_t arena = 0;
    std::size_t first = 0;
    bool clean = false;  // every entry is still zero everywhere (never handed out before)
  };

  /// The default size of an arena: 4 MiB of device memory and 12 MiB of registered host memory,
  /// enough for 64 GiB of ranges at the default 64 KiB page.
  static constexpr std::size_t default_entries = std::size_t{1} << 20;

  /// Makes the first arena of `entries` entries, its device table on `device`.
  /// @throws as backend::allocate_device and backend::register_host.
  table_pool(backend& b, std::size_t entries = default_entries, device_id device = 0);
  /// Frees every arena: no kernel may be in flight.
  ~table_pool();
  table_pool(const table_pool&) = delete;
  table_pool& operator=(const table_pool&) = delete;

  /// A run of `count` entries, without allocating device or registered memory; nullopt if no
  /// arena has room. The entries hold what the last table that used them left, unless `clean`.
  [[nodiscard]] std::optional<slice> take(std::size_t count) noexcept;
  /// Adds an arena of at least `count` entries (and at least the first arena's size). No kernel
  /// may be in flight.
  /// @throws as backend::allocate_device and backend::register_host.
  void grow(std::size_t count);
  /// Returns a run that take() gave. No kernel may still use its device entries.
  void give_back(const slice& s) noexcept;

  [[nodiscard]] std::size_t arenas() const noexcept { return arenas_.size(); }

 private:
  struct run {
    std::size_t count;
    bool clean;
  };
  struct arena {
    device_pte* device = nullptr;
    device_pte* host[3] = {nullptr, nullptr, nullptr};  // shadow, bounce, staged
    std::size_t entries = 0;
    std::size_t host_bytes = 0;
    std::map<std::size_t, run> free;  // first entry -> run, no two adjacent
  };

  [[nodiscard]] arena make_arena(std::size_t entries);
  void free_arena(arena& a) noexcept;

  backend& backend_;
  device_id device_;
  std::size_t default_entries_;
  std::vector<arena> arenas_;
};

}  // namespace uvm::detail
