#include "host/backend/device_probe.hpp"

#include <uvm/error.hpp>

namespace uvm::detail {

namespace {
// The CUDA backend is not part of the library yet: `auto` runs on the emulated device even where
// a GPU is usable, and asking for `cuda` says so.
constexpr bool cuda_backend_built = false;
}  // namespace

backend_kind resolve_backend(backend_kind requested) {
  if (requested == backend_kind::emulated) return requested;
  const device_probe p = probe_cuda_devices();
  if (p.devices > 0 && cuda_backend_built) return backend_kind::cuda;
  if (requested == backend_kind::cuda && p.devices > 0) {
    throw cuda_error(
        "uvm: the cuda backend was asked for (UVM_BACKEND=cuda), but this build of "
        "uvm does not have it yet; use UVM_BACKEND=emulated or auto",
        801);
  }
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
