#include "host/backend/device_probe.hpp"

namespace uvm::detail {

device_probe probe_cuda_devices() noexcept {
  return {0, "this build of uvm has no CUDA support (UVM_CUDA=OFF or no toolkit found)"};
}

}  // namespace uvm::detail
