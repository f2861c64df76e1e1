#include "host/backend/device_probe.hpp"

#include "host/backend/cuda/cuda_backend.hpp"
#include "host/backend/emulated/emulated_backend.hpp"

#include <cuda.h>
#include <cuda_runtime_api.h>

#include <cstdlib>

namespace uvm::detail {

void raise_device_connections() noexcept {
  // setenv's overwrite = 0 keeps the application's choice.
  (void)setenv("CUDA_DEVICE_MAX_CONNECTIONS", device_connections, 0);
}

device_probe probe_cuda_devices() noexcept {
  raise_device_connections();  // before cudaGetDeviceCount initialises the driver
  int n = 0;
  const cudaError_t e = cudaGetDeviceCount(&n);
  if (e != cudaSuccess) {
    cudaGetLastError();  // our call's own error: the application may use CUDA itself
    return {0, std::string(cudaGetErrorName(e)) + ": " + cudaGetErrorString(e)};
  }
  if (n == 0) return {0, "cudaGetDeviceCount found no device"};
  return {n, {}};
}

namespace {

// -1 where the query fails (its error cleared: it was this call's own).
int attribute(cudaDeviceAttr a, int device) noexcept {
  int v = 0;
  if (cudaDeviceGetAttribute(&v, a, device) != cudaSuccess) {
    cudaGetLastError();
    return -1;
  }
  return v;
}

using get_attribute_fn = CUresult (*)(int*, CUdevice_attribute, CUdevice);

void* driver_entry_point(const char* symbol) noexcept {
  void* fn = nullptr;
  cudaDriverEntryPointQueryResult found{};
  if (cudaGetDriverEntryPointByVersion(symbol, &fn, 12000, cudaEnableDefault, &found) !=
      cudaSuccess) {
    cudaGetLastError();
    return nullptr;
  }
  return found == cudaDriverEntryPointSuccess ? fn : nullptr;
}

}  // namespace

device_capabilities probe_cuda_capabilities(int device) noexcept {
  device_capabilities c;
  try {
    if (const device_probe p = probe_cuda_devices(); p.devices <= device || device < 0) {
      c.name = p.devices == 0 ? p.reason : "no CUDA device " + std::to_string(device);
      return c;
    }
    c.device = device;
    cudaDeviceProp prop{};
    if (cudaGetDeviceProperties(&prop, device) == cudaSuccess) {
      c.name = prop.name;
    } else {
      cudaGetLastError();
    }
    if (cudaDriverGetVersion(&c.driver_version) != cudaSuccess) cudaGetLastError();
    if (cudaRuntimeGetVersion(&c.runtime_version) != cudaSuccess) cudaGetLastError();
    c.concurrent_managed_access = attribute(cudaDevAttrConcurrentManagedAccess, device);
    c.pageable_memory_access = attribute(cudaDevAttrPageableMemoryAccess, device);
    c.host_register_read_only = attribute(cudaDevAttrHostRegisterReadOnlySupported, device);
    c.host_pointer_for_registered_mem =
        attribute(cudaDevAttrCanUseHostPointerForRegisteredMem, device);
    c.host_native_atomics = attribute(cudaDevAttrHostNativeAtomicSupported, device);
    c.async_engines = attribute(cudaDevAttrAsyncEngineCount, device);
    c.stream_wait_value = driver_entry_point("cuStreamWaitValue32") != nullptr ? 1 : 0;
    // A driver attribute the runtime's enum does not name: asked through the driver's entry
    // point, so nothing links libcuda.
    if (void* get = driver_entry_point("cuDeviceGetAttribute"); get != nullptr) {
      int v = 0;
      c.stream_wait_value_nor =
          reinterpret_cast<get_attribute_fn>(get)(
              &v, CU_DEVICE_ATTRIBUTE_CAN_USE_STREAM_WAIT_VALUE_NOR, device) == CUDA_SUCCESS
              ? v
              : -1;
    }
    int n = 0;
    if (cudaGetDeviceCount(&n) == cudaSuccess) {
      c.peer_devices = 0;
      for (int other = 0; other < n; ++other) {
        int can = 0;
        if (other == device) continue;
        if (cudaDeviceCanAccessPeer(&can, device, other) != cudaSuccess) {
          cudaGetLastError();
        } else if (can != 0) {
          ++c.peer_devices;
        }
      }
    } else {
      cudaGetLastError();
    }
  } catch (...) {  // std::string's allocations only
  }
  return c;
}

std::unique_ptr<backend> make_backend(backend_kind kind, const config& cfg) {
  if (kind == backend_kind::cuda) {
    return std::make_unique<cuda_backend>(
        std::vector<int>(cfg.cuda_devices.begin(), cfg.cuda_devices.end()));
  }
  return std::make_unique<emulated_backend>(cfg.emulated_workers, cfg.emulated_devices);
}

}  // namespace uvm::detail
