#pragma once

// The writers of every module's module_native_device (uvm/detail/current_device.hpp): each
// translation unit nvcc compiled registers one at start-up (or when a library is loaded), and a
// backend that drives several devices announces their ordinals. Every writer runs once for every
// announced ordinal, whichever came first; a value never changes (device d's word holds d), so
// announcing again costs nothing.

#include <uvm/detail/current_device.hpp>

#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

namespace uvm::detail {

class native_device_writers {
 public:
  /// The process's registry (built on first use: writers register from static initialisers).
  static native_device_writers& process() noexcept;

  /// Adds `w` and runs it for every ordinal announced so far.
  void add(native_device_writer w) noexcept;

  /// Runs every writer for `ordinal` (0 .. max_native_devices - 1), now and for those added
  /// later. @return "" or what failed, for the log: a module without code for the device fails,
  /// and its kernels could not run there anyway.
  [[nodiscard]] std::string announce(int ordinal);

  /// Writers registered (tests).
  [[nodiscard]] std::size_t size() noexcept;

 private:
  std::mutex mutex_;
  std::vector<native_device_writer> writers_;
  std::uint32_t announced_ = 0;  // bit o: ordinal o was announced
};

}  // namespace uvm::detail
