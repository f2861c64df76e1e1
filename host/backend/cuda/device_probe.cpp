#include "host/backend/device_probe.hpp"

#include "host/backend/cuda/cuda_backend.hpp"
#include "host/backend/emulated/emulated_backend.hpp"

#include <cuda_runtime_api.h>

namespace uvm::detail {

device_probe probe_cuda_devices() noexcept {
  int n = 0;
  const cudaError_t e = cudaGetDeviceCount(&n);
  if (e != cudaSuccess) {
    cudaGetLastError();  // clear it: the application may use CUDA itself
    return {0, std::string(cudaGetErrorName(e)) + ": " + cudaGetErrorString(e)};
  }
  if (n == 0) return {0, "cudaGetDeviceCount found no device"};
  return {n, {}};
}

std::unique_ptr<backend> make_backend(backend_kind kind) {
  if (kind == backend_kind::cuda) return std::make_unique<cuda_backend>();
  return std::make_unique<emulated_backend>();
}

}  // namespace uvm::detail
