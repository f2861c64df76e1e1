#pragma once

// The memory of one range: a memfd mapped twice. The app view is what the application uses; its
// protection encodes page states. The runtime view is always read-write and is where the runtime
// (and, on a GPU, DMA) reads and writes data, so it never opens a window on the app view.
// Both views are MADV_DONTFORK, and the memfd is closed once they are mapped.

#include <cstddef>

namespace uvm::detail {

class dual_mapping {
 public:
  /// Maps `bytes` (a multiple of the OS page size) with the app view aligned to `alignment`
  /// (a power of two) and inaccessible, or read-write with `app_accessible` (for a fault
  /// mechanism that catches accesses some other way).
  /// @throws uvm::out_of_memory or uvm::system_error naming the failing call.
  dual_mapping(std::size_t bytes, std::size_t alignment, bool app_accessible = false);
  ~dual_mapping();
  dual_mapping(const dual_mapping&) = delete;
  dual_mapping& operator=(const dual_mapping&) = delete;

  [[nodiscard]] std::byte* app() const noexcept { return app_; }
  [[nodiscard]] std::byte* runtime() const noexcept { return runtime_; }
  [[nodiscard]] std::size_t size() const noexcept { return size_; }

  /// The runtime view outlives this object: its destructor leaves it mapped, and the caller
  /// unmaps it (size() bytes). For memory the device may still reach once the range is gone.
  [[nodiscard]] std::byte* release_runtime() noexcept {
    runtime_owned_ = false;
    return runtime_;
  }

 private:
  std::byte* app_ = nullptr;
  std::byte* runtime_ = nullptr;
  std::size_t size_ = 0;
  bool runtime_owned_ = true;
};

}  // namespace uvm::detail
