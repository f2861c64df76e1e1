#pragma once

/// @file
/// Which device the calling device code runs on, so that a device view translates through that
/// device's page table and frames.

#include <uvm/detail/host_device.hpp>

#include <cstdint>

namespace uvm::detail {

/// The most devices one manager drives (uvm::manager::device_count()).
inline constexpr std::uint32_t max_devices = 8;

#if !defined(__CUDA_ARCH__)
/// On the emulated device: the device whose kernel worker this thread is (0 on every other
/// thread). Set once by each worker when it starts.
inline thread_local std::uint32_t emulated_device = 0;
#endif

/// @return the index of the device the calling kernel runs on. In CUDA device code the CUDA
/// backend drives one device, so 0.
UVM_HOST_DEVICE inline std::uint32_t current_device() noexcept {
#if defined(__CUDA_ARCH__)
  return 0;
#else
  return emulated_device;
#endif
}

}  // namespace uvm::detail
