#pragma once

// The CPU side of the page state machine: what a fault must do, and what each state lets the
// application's CPU code do. Pure functions, shared by the fault handler and the tests.

#include "host/memory/access.hpp"

#include <uvm/detail/page_word.hpp>

#include <cstdint>

namespace uvm::detail {

enum class cpu_action : std::uint8_t {
  retry,        ///< the state already allows the access (another thread resolved it)
  first_touch,  ///< populate locally, inline: no data moves
  upgrade,      ///< read-only copy becomes writable, inline: other copies are marked stale
  wait,         ///< another transition owns the page
  service,      ///< data must move: hand the fault to the service thread
};

struct cpu_decision {
  cpu_action action;
  page_state target;  ///< the state that resolves the fault
};

[[nodiscard]] constexpr host_access host_access_of(page_state s) noexcept {
  switch (s) {
    case page_state::host_exclusive:
    case page_state::remote: return host_access::read_write;
    case page_state::shared: return host_access::read;
    case page_state::unpopulated:
    case page_state::device_exclusive:
    case page_state::migrating: return host_access::none;
  }
  return host_access::none;
}

/// Write-invalidate: a write makes the host the only holder; a read moves ownership unless the
/// page is advised read-mostly, in which case it creates a read-only duplicate.
[[nodiscard]] constexpr cpu_decision decide_cpu_fault(page_word w, access a) noexcept {
  const page_state s = stored_state(w);
  if ((w & busy_bit) != 0) return {cpu_action::wait, s};
  if (allows(host_access_of(s), a)) return {cpu_action::retry, s};
  const bool duplicate = a == access::read && (w & read_mostly_bit) != 0;
  const page_state target = duplicate ? page_state::shared : page_state::host_exclusive;
  // Another process may hold the page: only its home can widen this process's access.
  if ((w & (device_mapped_bit | gated_bit)) != 0) return {cpu_action::service, target};
  switch (s) {
    case page_state::unpopulated: return {cpu_action::first_touch, target};
    case page_state::shared: return {cpu_action::upgrade, page_state::host_exclusive};
    default: return {cpu_action::service, target};
  }
}

}  // namespace uvm::detail
