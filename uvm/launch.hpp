#pragma once

/// @file
/// uvm::launch, one call that runs an instrumented kernel body on whichever device the manager
/// drives: a CUDA kernel on the cuda backend, CPU threads on the emulated device.
///
/// The body takes the index and reaches managed memory through device views. Compiled by nvcc,
/// it must be callable on both sides: mark lambdas `UVM_HOST_DEVICE` (nvcc needs
/// `--extended-lambda`). Compiled by a host compiler, only the emulated device can run it.
///
/// @code
/// auto x = mgr.allocate<float>(n);
/// auto xv = x.view();
/// uvm::launch(mgr, n, [=] UVM_HOST_DEVICE(std::size_t i) { xv.store(i, xv.load(i) * 2); });
/// mgr.synchronize();
/// @endcode

#include <uvm/detail/host_device.hpp>
#include <uvm/error.hpp>
#include <uvm/manager.hpp>

#include <cstddef>
#include <initializer_list>
#include <string>

#if defined(__CUDACC__)
#include <cuda_runtime.h>
#endif

namespace uvm {

#if defined(__CUDACC__)
namespace detail {

template <class F>
__global__ void for_each_index(std::size_t n, F f) {
  const std::size_t stride = static_cast<std::size_t>(gridDim.x) * blockDim.x;
  for (std::size_t i = blockIdx.x * static_cast<std::size_t>(blockDim.x) + threadIdx.x; i < n;
       i += stride) {
    f(i);
  }
}

/// Makes `ordinal` the calling thread's current GPU while it lives (a kernel launches on the
/// current GPU, and a stream of another GPU refuses it), then restores the previous one.
class current_gpu {
 public:
  explicit current_gpu(int ordinal) noexcept {
    if (cudaGetDevice(&previous_) != cudaSuccess) {
      (void)cudaGetLastError();  // this query's own error
      previous_ = -1;
    }
    if (ordinal < 0 || previous_ == ordinal) {
      previous_ = -1;
      return;
    }
    if (cudaSetDevice(ordinal) != cudaSuccess) {
      (void)cudaGetLastError();  // the launch then fails with its own error
      previous_ = -1;
    }
  }
  ~current_gpu() {
    if (previous_ >= 0) (void)cudaSetDevice(previous_);
  }
  current_gpu(const current_gpu&) = delete;
  current_gpu& operator=(const current_gpu&) = delete;

 private:
  int previous_ = -1;
};

/// Blocks for a grid-stride loop over `n` indices: enough to fill the device, no more.
inline unsigned grid_for(std::size_t n, unsigned block) {
  int device = 0, sms = 0;
  if (cudaGetDevice(&device) != cudaSuccess ||
      cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, device) != cudaSuccess) {
    (void)cudaGetLastError();  // the failed query's own error, nothing older
    sms = 132;
  }
  const std::size_t wanted = (n + block - 1) / block;
  const std::size_t cap = static_cast<std::size_t>(sms) * 16;
  return static_cast<unsigned>(wanted < cap ? wanted : cap);
}

}  // namespace detail
#endif

namespace detail {
template <class F>
void launch_in(launch_scope& scope, std::size_t n, F f) {
#if defined(__CUDACC__)
  if (n == 0) return;
  const current_gpu on(scope.native_device());
  constexpr unsigned block = 256;
  // cudaLaunchKernel answers for this launch alone. The <<<>>> form would leave the launch's
  // error to cudaGetLastError, which also takes (and clears) the application's own pending
  // error; here only an error this launch produced is cleared.
  void* args[] = {&n, &f};
  const cudaError_t e = cudaLaunchKernel(reinterpret_cast<const void*>(&for_each_index<F>),
                                         dim3(detail::grid_for(n, block)), dim3(block), args, 0,
                                         static_cast<cudaStream_t>(scope.native_stream()));
  if (e != cudaSuccess) {
    (void)cudaGetLastError();  // this launch's own error
    throw cuda_error(std::string("uvm::launch: kernel launch failed: ") + cudaGetErrorName(e) +
                         ": " + cudaGetErrorString(e),
                     static_cast<int>(e));
  }
#else
  (void)scope;
  (void)n;
  (void)f;
#endif
}
}  // namespace detail

/// @brief Runs `f(i)` for every i in [0, n) as one kernel on `s`, asynchronously, in its own
/// epoch (see manager::parallel_for). Call manager::synchronize to wait and collect errors.
/// @throws uvm::cuda_error if the launch fails; uvm::error if the manager drives a CUDA device
/// and this call was not compiled by nvcc.
template <class F>
void launch(manager& m, std::size_t n, F f, const stream& s = {}) {
#if defined(__CUDACC__)
  if (m.backend() == backend_kind::cuda) {
    launch_scope scope = m.begin_launch(s);
    detail::launch_in(scope, n, f);
    return;
  }
#endif
  m.parallel_for(n, f, s);
}

/// @brief As above, for a kernel that touches only `touches` (uvm::reads, uvm::writes): CPU
/// faults on other pages do not wait for it, and its accesses outside them are device errors.
/// Nothing moves at the launch (unlike launch residency).
/// @code
/// uvm::launch(mgr, n, body, s, {uvm::reads(x), uvm::writes(y)});
/// @endcode
template <class F>
void launch(manager& m, std::size_t n, F f, const stream& s,
            std::initializer_list<resident_span> touches) {
#if defined(__CUDACC__)
  if (m.backend() == backend_kind::cuda) {
    launch_scope scope = m.begin_declared_launch(touches, s);
    detail::launch_in(scope, n, f);
    return;
  }
#endif
  m.parallel_for(n, f, s, touches);
}

}  // namespace uvm
