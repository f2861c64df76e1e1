#pragma once

// What a CPU access is, and what the app view of a page allows: the words the fault sources,
// the service and the coherence layer share.

#include <cstdint>

namespace uvm::detail {

enum class access : std::uint8_t { read, write };

/// What the app view of a page allows; the fault source turns it into a protection.
enum class host_access : std::uint8_t { none, read, read_write };

[[nodiscard]] constexpr bool allows(host_access h, access a) noexcept {
  return a == access::read ? h != host_access::none : h == host_access::read_write;
}

}  // namespace uvm::detail
