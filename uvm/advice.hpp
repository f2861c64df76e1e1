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
  /// The data should live at the given location. `host`: device accesses map the pages remote
  /// instead of moving them. `device`: the default behaviour (pages move to the device on
  /// access). A prefetch still moves the pages wherever it is asked to.
  set_preferred_location = 3,
  /// Undoes set_preferred_location.
  unset_preferred_location = 4,
  /// The device keeps the pages mapped: while they are on the host, device accesses map them
  /// remote instead of faulting them over. The location must be a device.
  set_accessed_by = 5,
  /// Undoes set_accessed_by.
  unset_accessed_by = 6,
};

/// @brief What a span of pages was advised and where it was last prefetched. A field is set only
/// if every page of the span agrees (as cudaMemRangeGetAttributes reports).
struct range_attributes {
  bool read_mostly = false;
  std::optional<location> preferred_location;
  bool accessed_by_device = false;
  std::optional<location> last_prefetch_location;
  bool pinned = false;  ///< every page is pinned (see manager::pin_resident)
  /// The range's attachment, as last asked for (manager::attach); it takes effect in stream
  /// order.
  attach_kind attachment = attach_kind::global;
};

}  // namespace uvm
