#include "host/backend/device_probe.hpp"

#include <uvm/error.hpp>

namespace uvm::detail {

backend_kind resolve_backend(backend_kind requested) {
  if (requested == backend_kind::emulated) return requested;
  const device_probe p = probe_cuda_devices();
  if (p.devices > 0) return backend_kind::cuda;
  if (requested == backend_kind::cuda) {
    throw cuda_error(
        "uvm: the cuda backend was asked for (UVM_BACKEND=cuda) but no CUDA device is "
        "usable: " +
            p.reason,
        100 /* cudaErrorNoDevice */);
  }
  return backend_kind::emulated;
}

}  // namespace uvm::detail
