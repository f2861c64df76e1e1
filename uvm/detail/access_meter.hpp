#pragma once

/// @file
/// Counting what kernels reach through device views, for the device model (uvm/device_model.hpp).
/// Host code only (the emulated device): a kernel's worker counts into the meter it installs,
/// and a view of a range whose manager has a model (device_range::metered) calls meter_access on
/// each translation. Not part of the API.

#include <uvm/detail/device_pte.hpp>

#include <cstdint>
#include <vector>

namespace uvm::detail {

/// What one worker's share of a kernel reached.
struct access_meter {
  std::uint64_t bytes = 0;         ///< in its device's frames
  std::uint64_t remote_bytes = 0;  ///< in host pages
  std::uint64_t peer_bytes = 0;    ///< in other devices' frames
  /// The lines of host pages and of peers' frames it reached (range << 44 | line), in order,
  /// without repeats of the line just before.
  std::vector<std::uint64_t> remote_lines;
  std::vector<std::uint64_t> peer_lines;
  std::uint32_t line_shift = 7;  ///< log2 of the line size
};

/// Counts an access of `bytes` (at least 1) at `offset` of range `range`, in a page that entry
/// `e` maps, into the meter the calling thread installed, if any (install_meter).
void meter_access(device_pte e, std::uint32_t range, std::uint64_t offset,
                  std::uint64_t bytes) noexcept;

/// The calling thread's meter from now on (nullptr: none); @return the previous one.
access_meter* install_meter(access_meter* m) noexcept;

}  // namespace uvm::detail
