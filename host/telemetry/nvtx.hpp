#pragma once

// NVTX ranges in the library's one domain, `uvm`, so Nsight Systems shows the runtime's work.
// Used on API entry points and the service thread, never in the signal handler. Compiled out
// when the build has no NVTX headers.

#if UVM_HAS_NVTX
#include <nvtx3/nvtx3.hpp>

namespace uvm::detail {
struct nvtx_domain {
  static constexpr char const* name{"uvm"};
};
}  // namespace uvm::detail

#define UVM_NVTX_FUNC_RANGE() NVTX3_FUNC_RANGE_IN(::uvm::detail::nvtx_domain)
#else
#define UVM_NVTX_FUNC_RANGE()
#endif
