#include "host/backend/native_device_writers.hpp"

#include <fmt/format.h>

namespace uvm::detail {

native_device_writers& native_device_writers::process() noexcept {
  static native_device_writers registry;
  return registry;
}

void native_device_writers::add(native_device_writer w) noexcept {
  const std::lock_guard lock(mutex_);
  try {
    writers_.push_back(w);
  } catch (...) {  // out of memory at start-up: this module's kernels report foreign_device
    return;
  }
  for (std::uint32_t o = 0; o < max_native_devices; ++o) {
    if ((announced_ >> o & 1u) != 0) (void)w(static_cast<int>(o));
  }
}

std::string native_device_writers::announce(int ordinal) {
  if (ordinal < 0 || static_cast<std::uint32_t>(ordinal) >= max_native_devices) {
    return fmt::format("device {} is beyond the {} that device code can tell apart", ordinal,
                       max_native_devices);
  }
  const std::lock_guard lock(mutex_);
  std::string failed;
  for (const native_device_writer w : writers_) {
    if (const int e = w(ordinal); e != 0 && failed.empty()) {
      failed = fmt::format(
          "a module's device number on device {} could not be written (CUDA "
          "error {})",
          ordinal, e);
    }
  }
  announced_ |= 1u << static_cast<std::uint32_t>(ordinal);
  return failed;
}

std::size_t native_device_writers::size() noexcept {
  const std::lock_guard lock(mutex_);
  return writers_.size();
}

void register_native_device_writer(native_device_writer w) noexcept {
  if (w != nullptr) native_device_writers::process().add(w);
}

}  // namespace uvm::detail
