#pragma once

/// @file
/// Which device the calling device code runs on, so that a device view translates through that
/// device's page table and frames.
///
/// A GPU has no register that names it, so each translation unit that nvcc compiles holds a
/// `__device__` word, module_native_device: a `__device__` variable exists once per device in
/// the module loaded there, and the cuda backend writes each device's CUDA ordinal into its own
/// copy (through the writer this header registers) when it starts driving several devices.
/// Until then it reads ~0u, which no range maps to a slot: an access reports
/// device_error::foreign_device instead of using another device's frames.

#include <uvm/detail/host_device.hpp>

#include <cstdint>

#if defined(__CUDACC__)
#include <cuda_runtime.h>
#endif

namespace uvm::detail {

/// The most devices one manager drives (uvm::manager::device_count()).
inline constexpr std::uint32_t max_devices = 8;
/// Native device numbers a range can map to its slots (CUDA ordinals 0 .. 31).
inline constexpr std::uint32_t max_native_devices = 32;
/// A native device that no slot of the range belongs to.
inline constexpr std::uint8_t no_slot = 0xFF;

#if !defined(__CUDA_ARCH__)
/// On the emulated device: the device whose kernel worker this thread is (0 on every other
/// thread). Set once by each worker when it starts.
inline thread_local std::uint32_t emulated_device = 0;
#endif

/// Writes `ordinal` into one module's module_native_device on CUDA device `ordinal`.
/// @return 0 or the cudaError_t of the failure.
using native_device_writer = int (*)(int ordinal) noexcept;

/// Registers a module's writer with the library: the cuda backend calls it for every device it
/// drives, now if it already does, and later otherwise. Async-signal-safe it is not; it is
/// called from static initialisers. Defined in libuvm (every build, CUDA or not).
void register_native_device_writer(native_device_writer w) noexcept;

#if defined(__CUDACC__)
/// This module's copy, per device, of that device's CUDA ordinal (~0u until written).
static __device__ std::uint32_t module_native_device = ~0u;

/// Runs in this translation unit (internal linkage), with the CUDA runtime it was linked with
/// (the application's may be another copy than libuvm's): makes `ordinal` current, writes the
/// word, restores.
static int write_module_native_device(int ordinal) noexcept {
  int previous = -1;
  if (cudaGetDevice(&previous) != cudaSuccess) previous = -1;
  cudaError_t e = cudaSetDevice(ordinal);
  const auto value = static_cast<std::uint32_t>(ordinal);
  if (e == cudaSuccess) e = cudaMemcpyToSymbol(module_native_device, &value, sizeof value);
  if (previous >= 0) (void)cudaSetDevice(previous);
  if (e != cudaSuccess) (void)cudaGetLastError();  // this call's own error
  return static_cast<int>(e);
}

struct module_native_device_registration {
  module_native_device_registration() noexcept {
    register_native_device_writer(&write_module_native_device);
  }
};
[[maybe_unused]] static const module_native_device_registration register_this_module{};
#endif

/// @return the native number of the device the calling kernel runs on: the CUDA ordinal in CUDA
/// device code (~0u in a module the cuda backend has not written), the worker's device on the
/// emulated device. device_range::device_index() maps it to the manager's index.
UVM_HOST_DEVICE inline std::uint32_t current_device() noexcept {
#if defined(__CUDA_ARCH__)
  return module_native_device;
#else
  return emulated_device;
#endif
}

}  // namespace uvm::detail
