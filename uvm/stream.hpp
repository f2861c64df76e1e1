#pragma once

/// @file
/// uvm::stream, an in-order queue of device work (kernels, copies), like a cudaStream_t.

#include <cstdint>
#include <memory>

namespace uvm {

/// @brief Which kernels may use a range, as cudaStreamAttachMemAsync's flags say on devices
/// without concurrent managed access. The CPU waits only for the kernels that may use a page.
enum class attach_kind : std::uint8_t {
  /// Kernels on every stream may use it (cudaMemAttachGlobal, the default): a CPU access to a
  /// page the device holds waits for every kernel in flight that may touch it.
  global = 1,
  /// No kernel uses it (cudaMemAttachHost): the CPU never waits for it; a kernel that accesses
  /// it gets a device error naming the range (manager::synchronize throws uvm::device_fault).
  host = 2,
  /// Only kernels on one stream use it (cudaMemAttachSingle): the CPU waits only for that
  /// stream's kernels; a kernel on another stream that accesses it gets a device error.
  single = 4,
};

namespace detail {
class stream_base;
}

/// @brief A handle to a device stream created by uvm::manager::create_stream. Copies share the
/// stream. A default-constructed handle means the manager's default stream, on device 0.
class stream {
 public:
  stream() noexcept = default;
  explicit stream(std::shared_ptr<detail::stream_base> s, int device = 0) noexcept
      : s_(std::move(s)), device_(device) {}
  [[nodiscard]] bool is_default() const noexcept { return s_ == nullptr; }
  /// @return the device whose kernels and copies the stream runs (create_stream's `device`).
  [[nodiscard]] int device() const noexcept { return device_; }
  [[nodiscard]] const std::shared_ptr<detail::stream_base>& handle() const noexcept { return s_; }

 private:
  std::shared_ptr<detail::stream_base> s_;
  int device_ = 0;
};

}  // namespace uvm
