#pragma once

// How CPU accesses are caught and how the app view's protections are changed. Non-virtual
// interface: the public calls add the checks every implementation needs.

#include "host/coherence/transition.hpp"

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace uvm::detail {

class fault_source {
 public:
  virtual ~fault_source() = default;

  /// Makes [addr, addr + bytes) of an app view allow `a`. Async-signal-safe.
  /// @return 0, or the errno of the failing call (ENOMEM when the process is out of mappings).
  [[nodiscard]] int protect(void* addr, std::size_t bytes, host_access a) noexcept {
    return do_protect(addr, bytes, a);
  }

  /// @return the mechanism's name, as UVM_FAULT_MECHANISM spells it.
  [[nodiscard]] std::string_view name() const noexcept { return do_name(); }

 private:
  virtual int do_protect(void* addr, std::size_t bytes, host_access a) noexcept = 0;
  virtual std::string_view do_name() const noexcept = 0;
};

}  // namespace uvm::detail
