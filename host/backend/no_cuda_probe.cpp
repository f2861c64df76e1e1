#include "host/backend/device_probe.hpp"
#include "host/backend/emulated/emulated_backend.hpp"

namespace uvm::detail {

void raise_device_connections() noexcept {}

device_probe probe_cuda_devices() noexcept {
  return {0, "this build of uvm has no CUDA support (UVM_CUDA=OFF or no toolkit found)"};
}

device_capabilities probe_cuda_capabilities(int) noexcept {
  device_capabilities c;
  c.name = probe_cuda_devices().reason;
  return c;
}

std::unique_ptr<backend> make_backend(backend_kind, const config& cfg) {
  // resolve_backend never answers `cuda` in this build: the probe finds no device.
  return std::make_unique<emulated_backend>(cfg.emulated_workers, cfg.emulated_devices);
}

}  // namespace uvm::detail
