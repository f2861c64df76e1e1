#pragma once

/// @file
/// Usage hints for a span of managed memory, named after cudaMemAdvise's.

#include <cstdint>

namespace uvm {

/// @brief A hint that changes how faults on a span of pages are resolved.
enum class advice : std::uint8_t {
  /// The data is mostly read: a read fault creates a read-only copy (state `shared`) instead of
  /// moving ownership, and the first write to such a page upgrades it (one more fault).
  set_read_mostly,
  /// Undoes set_read_mostly. Pages that are already `shared` stay so until written.
  unset_read_mostly,
};

}  // namespace uvm
