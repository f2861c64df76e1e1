#pragma once

/// @file
/// Usage hints for a span of managed memory, named and numbered after cudaMemAdvise's, and the
/// attributes a span can be asked for (cudaMemRangeGetAttributes).

#include <uvm/location.hpp>
#include <uvm/stream.hpp>

#include <cstdint>
#include <optional>

namespace uvm {

/// @brief A hint that changes how faults on a span of pages are resolved.
enum class advice : std::uint8_t {
  /// The data is mostly read: a read fault creates a read-only copy (state `shared`) instead of
  /// moving ownership, and the first write to such a page upgrades it (one more fault).
  set_read_mostly = 1,
  /// Undoes set_read_mostly. Pages that are already `shared` stay so until written.
  unset_read_mostly = 2,
  /// The data should live at the given location: while a page is there, an access from
  /// elsewhere maps it there if it can instead of moving it. `host`: device accesses map the
  /// pages remote. `device(i)`: another device maps device i's frame as a peer; the CPU, which
  /// cannot map device memory, still moves the page to the host, and a device faulting on a page
  /// that is not on device i moves it to itself. A prefetch moves the pages wherever it is
  /// asked to.
  set_preferred_location = 3,
  /// Undoes set_preferred_location.
  unset_preferred_location = 4,
  /// The device keeps the pages mapped wherever they live: its accesses map the host page
  /// (remote) or another device's frame (peer) instead of moving the page there. A move
  /// elsewhere drops the mapping, and the device maps the page again at its next access. The
  /// location must be a device; several devices may be named, one call each.
  set_accessed_by = 5,
  /// Undoes set_accessed_by.
  unset_accessed_by = 6,
};

/// @brief What a span of pages was advised and where it was last prefetched. A field is set only
/// if every page of the span agrees (as cudaMemRangeGetAttributes reports).
struct range_attributes {
  bool read_mostly = false;
  std::optional<location> preferred_location;
  /// Bit d: every page of the span is accessed by device d (set_accessed_by).
  std::uint32_t accessed_by_devices = 0;
  /// Some device accesses every page of the span: accessed_by_devices != 0.
  bool accessed_by_device = false;
  std::optional<location> last_prefetch_location;
  bool pinned = false;  ///< every page is pinned (see manager::pin_resident)
  /// The range's attachment, as last asked for (manager::attach); it takes effect in stream
  /// order.
  attach_kind attachment = attach_kind::global;
};

}  // namespace uvm
