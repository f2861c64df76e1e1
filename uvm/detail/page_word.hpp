#pragma once

/// @file
/// Layout of the 32-bit word that holds one page's coherence state. Host and device code read
/// the same layout; the host also sleeps on it with futex.

#include <uvm/detail/host_device.hpp>
#include <uvm/page_state.hpp>

#include <cstdint>

namespace uvm::detail {

using page_word = std::uint32_t;

/// Bits 0-2: the stored page_state (never `migrating`; that is the busy bit).
inline constexpr page_word state_mask = 0x7u;
/// A transition owns the page; other agents wait until it is published.
inline constexpr page_word busy_bit = 1u << 3;
/// At least one thread sleeps on the word; the publisher must wake it.
inline constexpr page_word waiters_bit = 1u << 4;
/// Advice: read faults duplicate the page instead of moving ownership.
inline constexpr page_word read_mostly_bit = 1u << 5;
/// The device page table maps the page (a frame, or the host page if `remote`): changing the
/// host's access may need device work, so such faults go to the service thread.
inline constexpr page_word device_mapped_bit = 1u << 6;
/// Advice: preferred location host / a device (at most one is set; which device: the range's
/// page_advice).
inline constexpr page_word preferred_host_bit = 1u << 7;
inline constexpr page_word preferred_device_bit = 1u << 8;
/// pin_resident: the page stays where it was pinned and takes no faults there.
inline constexpr page_word pinned_bit = 1u << 10;
/// Where the page was last prefetched to (at most one is set; which device: page_advice).
inline constexpr page_word prefetched_host_bit = 1u << 11;
inline constexpr page_word prefetched_device_bit = 1u << 12;
/// The page belongs to a range shared with other processes (a cluster range): a fault that
/// would widen its access goes to the service thread, which asks the page's home first.
inline constexpr page_word gated_bit = 1u << 13;
/// Bits 16-31: a generation, advanced by every publish, so that an observer can tell whether a
/// page went through any transition since it last looked (the fault handler's self-healing).
inline constexpr page_word generation_one = 1u << 16;
inline constexpr page_word generation_mask = ~(generation_one - 1);

UVM_HOST_DEVICE constexpr page_state stored_state(page_word w) noexcept {
  return static_cast<page_state>(w & state_mask);
}

/// @return the state an observer reports: `migrating` while a transition owns the page.
UVM_HOST_DEVICE constexpr page_state visible_state(page_word w) noexcept {
  return (w & busy_bit) != 0 ? page_state::migrating : stored_state(w);
}

UVM_HOST_DEVICE constexpr page_word with_state(page_word w, page_state s) noexcept {
  return (w & ~state_mask) | static_cast<page_word>(s);
}

}  // namespace uvm::detail
