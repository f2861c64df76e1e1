#pragma once

/// @file
/// Layout of a device page-table entry: one 32-bit word per page, read by instrumented device
/// code on every access, written by the host (ordered after the page's data) and by device stores
/// (dirty and accessed bits).

#include <uvm/detail/host_device.hpp>

#include <cstdint>

namespace uvm::detail {

using device_pte = std::uint32_t;

inline constexpr device_pte pte_valid = 1u << 0;     ///< the page may be read
inline constexpr device_pte pte_writable = 1u << 1;  ///< the page may be written
inline constexpr device_pte pte_dirty = 1u << 2;     ///< a device store happened since mapping
inline constexpr device_pte pte_accessed = 1u << 3;  ///< a device access happened (eviction)
inline constexpr device_pte pte_remote = 1u << 4;    ///< maps the host page, not a frame
/// A fault record for the page is on its way to the host: set by the one lane that posts it,
/// cleared by the entry the host publishes next (the host never sets it). Other waiting lanes
/// then do not post again, so waiting warps cannot flood the mailbox.
inline constexpr device_pte pte_fault_pending = 1u << 5;
/// No kernel in flight may use the page (it is attached to the host or to another stream, or
/// outside what the launches declared): a lane waiting on the entry reports a device error
/// instead of waiting. Set by the host, cleared by it before the next launch.
inline constexpr device_pte pte_denied = 1u << 6;
/// Maps a frame of another device (a peer mapping, over NVLink or PCIe peer access): the entry
/// holds that device's index (bits 8..10) and its frame (bits 11..31) instead of a frame of its
/// own device.
inline constexpr device_pte pte_peer = 1u << 7;
inline constexpr unsigned pte_frame_shift = 8;  ///< bits 8..31: frame index
inline constexpr std::uint32_t max_frames = 1u << 24;
inline constexpr unsigned pte_peer_frame_shift = 11;
/// Frames a peer mapping can name: a device's frames at or past it are never mapped by a peer.
inline constexpr std::uint32_t max_peer_frames = 1u << 21;

UVM_HOST_DEVICE constexpr device_pte make_pte(std::uint32_t frame, device_pte flags) noexcept {
  return (frame << pte_frame_shift) | flags;
}
UVM_HOST_DEVICE constexpr std::uint32_t pte_frame(device_pte e) noexcept {
  return e >> pte_frame_shift;
}
/// Whether the entry maps a frame of its own device (not the host page, not a peer's frame).
UVM_HOST_DEVICE constexpr bool pte_in_frame(device_pte e) noexcept {
  return (e & (pte_valid | pte_remote | pte_peer)) == pte_valid;
}
/// An entry that maps `frame` (below max_peer_frames) of device `owner` (below 8).
UVM_HOST_DEVICE constexpr device_pte make_peer_pte(std::uint32_t owner, std::uint32_t frame,
                                                   device_pte flags) noexcept {
  return (frame << pte_peer_frame_shift) | (owner << pte_frame_shift) | pte_peer | flags;
}
UVM_HOST_DEVICE constexpr std::uint32_t pte_peer_device(device_pte e) noexcept {
  return (e >> pte_frame_shift) & 0x7u;
}
UVM_HOST_DEVICE constexpr std::uint32_t pte_peer_frame(device_pte e) noexcept {
  return e >> pte_peer_frame_shift;
}

}  // namespace uvm::detail
