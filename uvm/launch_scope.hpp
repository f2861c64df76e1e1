#pragma once

/// @file
/// uvm::launch_scope, one epoch: kernels that the application launches itself on a stream the
/// manager knows of. Two uses:
///
/// - Instrumented kernels (taking uvm::device_view) launched with your own `<<<...>>>`: open a
///   scope, make its GPU current (native_device()), launch on native_stream(), let the scope
///   end. uvm::launch (<uvm/launch.hpp>) does this for you.
/// - Launch-residency mode, for kernels that are not instrumented and take raw pointers: declare
///   the spans they read and write; before the scope opens they are made device-resident in
///   contiguous device memory, and device_pointer() gives the raw pointer that is valid for the
///   whole launch. Written spans lose their host mapping (a later CPU access migrates them back,
///   every page copied since the kernel's stores are not tracked); read spans stay readable on
///   the host. This is what managed memory does on devices without concurrent managed access.
///
/// @code
/// auto x = mgr.allocate<float>(n);
/// {
///   uvm::launch_scope scope = mgr.begin_launch({uvm::writes(x)}, s);
///   float* xd = scope.device_pointer(x.data());
///   cudaSetDevice(scope.native_device());  // the stream's GPU (s = mgr.create_stream(name, d))
///   scale<<<grid, block, 0, static_cast<cudaStream_t>(scope.native_stream())>>>(xd, n);
/// }                                  // the epoch ends after the kernel
/// mgr.synchronize(s);
/// float first = x[0];                // the CPU faults; the page comes back
/// @endcode

#include <uvm/range.hpp>
#include <uvm/stream.hpp>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

namespace uvm {

namespace detail {
class runtime;
/// Where a declared span lives on the device for one epoch.
struct resident_mapping {
  const std::byte* host;
  std::size_t bytes;
  std::byte* device;
};
}  // namespace detail

/// @brief A span that a kernel reads, or reads and writes: for launch residency
/// (manager::begin_launch) the pages to place on the device; for a declared launch
/// (uvm::launch and parallel_for with a list, manager::begin_declared_launch) the pages it may
/// touch.
struct resident_span {
  const void* data = nullptr;
  std::size_t bytes = 0;
  bool write = false;
};

/// @brief The kernel reads `r` (its pages stay valid on the host).
template <class T>
[[nodiscard]] resident_span reads(const typed_range<T>& r) noexcept {
  return {r.data(), r.size() * sizeof(T), false};
}
/// @brief The kernel reads and writes `r`.
template <class T>
[[nodiscard]] resident_span writes(const typed_range<T>& r) noexcept {
  return {r.data(), r.size() * sizeof(T), true};
}
/// @brief The kernel reads [p, p + bytes) (part of a range, such as one chunk of it).
[[nodiscard]] inline resident_span reads(const void* p, std::size_t bytes) noexcept {
  return {p, bytes, false};
}
/// @brief The kernel reads and writes [p, p + bytes).
[[nodiscard]] inline resident_span writes(const void* p, std::size_t bytes) noexcept {
  return {p, bytes, true};
}

/// @brief An open epoch on one stream. Move-only; ends when destroyed or at end().
class launch_scope {
 public:
  launch_scope(launch_scope&& other) noexcept;
  launch_scope& operator=(launch_scope&&) = delete;
  launch_scope(const launch_scope&) = delete;
  launch_scope& operator=(const launch_scope&) = delete;
  ~launch_scope();

  /// @return the stream to launch on: a cudaStream_t on the cuda backend, nullptr on the
  /// emulated device (use parallel_for there).
  [[nodiscard]] void* native_stream() const noexcept { return native_; }

  /// @return the CUDA ordinal of the GPU the scope's stream belongs to (-1 on the emulated
  /// device). Make it current (cudaSetDevice) before launching on native_stream():
  /// uvm::launch and uvm::thrust::par do.
  [[nodiscard]] int native_device() const noexcept { return native_device_; }

  /// @return the device address of `p`, which must lie in a span declared at begin_launch.
  /// @throws uvm::invalid_argument otherwise.
  template <class T>
  [[nodiscard]] T* device_pointer(T* p) const {
    return static_cast<T*>(translate(p));
  }
  template <class T>
  [[nodiscard]] const T* device_pointer(const T* p) const {
    return static_cast<const T*>(translate(p));
  }

  /// @brief Runs `f(i)` for i in [0, n) in this epoch on the emulated device (host functors;
  /// on the cuda backend launch a kernel on native_stream() instead).
  /// @throws uvm::error on the cuda backend.
  template <class F>
  void parallel_for(std::size_t n, F f) {
    run(n, [f](std::size_t begin, std::size_t end) {
      for (std::size_t i = begin; i < end; ++i) f(i);
    });
  }

  /// @brief Ends the epoch after the work enqueued on its stream so far. Later calls do nothing.
  void end() noexcept;

 private:
  friend class manager;
  launch_scope(std::shared_ptr<detail::runtime> rt, stream s, void* native, int native_device,
               std::vector<detail::resident_mapping> spans, std::uint64_t epoch) noexcept;
  [[nodiscard]] void* translate(const void* p) const;
  void run(std::size_t n, std::function<void(std::size_t, std::size_t)> body);

  std::shared_ptr<detail::runtime> runtime_;
  stream stream_;
  void* native_ = nullptr;
  int native_device_ = -1;
  std::vector<detail::resident_mapping> spans_;
  std::uint64_t epoch_ = 0;  // the launch's ticket among the kernels in flight
};

}  // namespace uvm
