#pragma once

// Which backend a manager gets. A CUDA device is usable when the build has the CUDA toolkit and
// cudaGetDeviceCount reports at least one device.

#include "host/backend/backend.hpp"
#include "host/backend/device_capabilities.hpp"

#include <uvm/config.hpp>

#include <memory>
#include <string>

namespace uvm::detail {

struct device_probe {
  int devices = 0;
  std::string reason;  ///< why none is usable, when devices == 0
};

/// Asks the CUDA runtime for devices (or reports a build without the toolkit). Never throws.
[[nodiscard]] device_probe probe_cuda_devices() noexcept;

/// The hardware work queues a CUDA context spreads streams over: CUDA_DEVICE_MAX_CONNECTIONS,
/// read when the context is created (default 8). Streams beyond them share queues, and a
/// stream waiting at a queue's head holds the others' work; the library asks for 32 (the most)
/// unless the environment says otherwise. Called before the library's first CUDA call; it
/// cannot change a context the application created already.
void raise_device_connections() noexcept;
inline constexpr const char* device_connections = "32";

/// The optional capabilities of CUDA device `device`, queried without starting a backend (the
/// cuda backend asks the same once at start and logs them with the paths it takes).
/// @return `device` == -1 when no CUDA device is usable; `name` then says why. Never throws.
[[nodiscard]] device_capabilities probe_cuda_capabilities(int device) noexcept;

class backend;

/// The backend for `kind` (resolved: cuda or emulated), with the devices `cfg` names
/// (emulated_devices, cuda_devices).
/// @throws uvm::cuda_error if a device cannot be used.
[[nodiscard]] std::unique_ptr<backend> make_backend(backend_kind kind, const config& cfg);

/// `automatic` -> cuda or emulated; `cuda` is checked.
/// @throws uvm::cuda_error if `cuda` is asked for and no device is usable.
[[nodiscard]] backend_kind resolve_backend(backend_kind requested);

}  // namespace uvm::detail
