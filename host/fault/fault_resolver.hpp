#pragma once

// What the fault service thread calls to resolve a fault that moves data. The migration layer
// implements it; a host-only runtime has nothing to move from.

#include "host/coherence/transition.hpp"
#include "host/telemetry/nvtx.hpp"

#include <cstddef>

namespace uvm::detail {

class managed_range;

class fault_resolver {
 public:
  virtual ~fault_resolver() = default;

  /// Brings `page` of `r` to a state that allows `a`. Runs on the service thread, may block.
  /// @return 0, or an errno-style code that the faulting thread reports.
  [[nodiscard]] int resolve(managed_range& r, std::size_t page, access a) noexcept {
    UVM_NVTX_FUNC_RANGE();
    return do_resolve(r, page, a);
  }

 private:
  virtual int do_resolve(managed_range& r, std::size_t page, access a) noexcept = 0;
};

}  // namespace uvm::detail
