#pragma once

/// @file
/// Thrust on managed memory in launch-residency mode: an execution policy for a
/// uvm::launch_scope, so `thrust::sort`, `reduce`, `transform`, `inclusive_scan` and every other
/// Thrust algorithm run on the scope's device pointers, on its stream, inside its epoch.
///
/// Not part of <uvm/uvm.hpp>: include <uvm/thrust.hpp> where you use Thrust, with Thrust on the
/// include path (CCCL from the CUDA toolkit, or Debian's libthrust-dev for host builds).
///
/// uvm::thrust::par(scope) is the policy to pass as the algorithm's first argument:
/// - in a file compiled by nvcc, `thrust::cuda::par.on(scope's stream)`: Thrust's kernels on the
///   GPU, for the cuda backend;
/// - in a file compiled by a host C++ compiler, uvm::thrust::emulated_policy: Thrust's
///   sequential host system (`thrust::cpp`) over the emulated device's frames, for the emulated
///   device. Such a file needs no CUDA header (the tests build with Thrust's CPP device system).
///
/// The backend is chosen when the manager starts (UVM_BACKEND), the policy's type when the file
/// is compiled, so code that must run on both (a .cu file on a machine without a GPU) calls
/// uvm::thrust::with_policy, which hands its function the policy the scope's backend needs.
///
/// @code
/// auto keys = mgr.allocate<std::uint32_t>(n);
/// ...                                                  // the CPU fills keys
/// {
///   uvm::launch_scope scope = mgr.begin_launch({uvm::writes(keys)}, s);
///   std::uint32_t* d = scope.device_pointer(keys.data());
///   thrust::sort(uvm::thrust::par(scope), d, d + n);  // returns when the sort is done
/// }                                                    // the epoch ends after it
/// std::uint32_t smallest = keys[0];                    // the CPU faults; the page comes back
/// @endcode
///
/// What the policy guarantees, on both backends:
/// - the algorithm runs after the work enqueued on the scope's stream before the call (kernels,
///   prefetches, earlier algorithms), and before the work enqueued after it and the epoch's end;
/// - the call returns once the algorithm has finished, as with `thrust::cuda::par` (not
///   `par_nosync`): results that Thrust returns by value are final, and so is the memory;
/// - the pages are in the states launch residency promises: written spans device_exclusive
///   until the CPU touches them (each page is then copied back), read spans still readable on
///   the host without a fault.
///
/// Pass only pointers from scope.device_pointer() (or iterators over them). On the emulated
/// device the algorithm runs on the host, so a managed pointer into a written span would be a CPU
/// access that waits for the epoch to end, that is for the algorithm itself (until the fault
/// timeout); on a GPU it would not be device memory at all. Thrust's temporary storage comes
/// from outside the manager's device budget: on a GPU from stream_ordered_allocator
/// (cudaMallocAsync and cudaFreeAsync on the scope's stream: cudaMalloc and cudaFree may wait
/// for the device, that is behind a faulting kernel that is waiting for the runtime), on the
/// emulated device from the heap.
///
/// Code inside namespace uvm must name Thrust as `::thrust`; so must code after
/// `using namespace uvm;`.

#include <uvm/error.hpp>
#include <uvm/launch_scope.hpp>

#include <thrust/system/cpp/execution_policy.h>

#if defined(__CUDACC__)
#include <cuda_runtime.h>
#include <thrust/system/cuda/execution_policy.h>
#endif

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <memory>
#include <mutex>
#include <string>
#include <utility>

namespace uvm::thrust {

namespace detail {

/// A one-index kernel on an emulated stream that holds the stream's place while host code does
/// the kernel's work: it starts once the stream's earlier work has finished and returns when
/// released, so later work on the stream and the epoch's end wait for the host code.
class stream_hold {
 public:
  /// Enqueues the hold on `scope`'s stream and waits until it runs.
  /// @throws uvm::timeout if it did not run within `timeout` (the stream is not held then).
  /// @throws uvm::invalid_argument if the scope has ended.
  stream_hold(launch_scope& scope, std::chrono::milliseconds timeout)
      : state_(std::make_shared<state>()) {
    scope.parallel_for(1, [s = state_](std::size_t) { s->hold(); });
    std::unique_lock lock(state_->mutex);
    if (!state_->cv.wait_for(lock, timeout, [this] { return state_->reached; })) {
      lock.unlock();
      state_->release();  // when the stream reaches it at last, it returns at once
      throw uvm::timeout(
          "uvm::thrust::par: the scope's stream did not reach the algorithm within the timeout "
          "(earlier work on it still runs)");
    }
  }
  ~stream_hold() { state_->release(); }
  stream_hold(const stream_hold&) = delete;
  stream_hold& operator=(const stream_hold&) = delete;

 private:
  struct state {
    std::mutex mutex;
    std::condition_variable cv;
    bool reached = false;   // the stream's earlier work has finished
    bool released = false;  // the host code is done: the stream goes on

    void hold() {
      std::unique_lock lock(mutex);
      reached = true;
      cv.notify_all();
      // Not bounded by a timeout: the stream_hold's destructor releases it, also when the
      // algorithm throws. Giving up earlier would let later work race the algorithm.
      cv.wait(lock, [this] { return released; });
    }
    void release() noexcept {
      {
        const std::lock_guard lock(mutex);
        released = true;
      }
      cv.notify_all();
    }
  };
  std::shared_ptr<state> state_;  // shared with the kernel, which may outlive this object
};

}  // namespace detail

/// @brief The policy for the emulated device: Thrust's sequential host system (`thrust::cpp`),
/// running the algorithm on the calling thread over the emulated device's frames (the memory
/// scope.device_pointer() points into), while the scope's stream is held at the point where the
/// policy was made: the policy's constructor waits until the work enqueued on the stream before
/// it has finished, and the stream goes on when the last copy of the policy is destroyed.
///
/// Make it in the algorithm's call (uvm::thrust::par(scope) as its first argument): a named
/// policy holds the stream, and every epoch on it, for as long as it lives, so
/// manager::synchronize of that stream waits for it. An exception from the algorithm reaches
/// the caller, and the policy's destruction releases the stream as usual. One thread runs the
/// algorithm: this is for correctness on machines without a GPU, not for speed. Not for use
/// inside a kernel body.
///
/// Usable in every translation unit, nvcc's included; on the cuda backend it throws.
class emulated_policy : public ::thrust::system::cpp::execution_policy<emulated_policy> {
 public:
  /// @brief Holds `scope`'s stream once the work enqueued on it so far has finished.
  /// @param timeout how long to wait for that work.
  /// @throws uvm::invalid_argument if the scope is on the cuda backend or has ended.
  /// @throws uvm::timeout if the earlier work did not finish within `timeout`.
  explicit emulated_policy(launch_scope& scope,
                           std::chrono::milliseconds timeout = std::chrono::minutes(5))
      : hold_(make_hold(scope, timeout)) {}

 private:
  static std::shared_ptr<const detail::stream_hold> make_hold(launch_scope& scope,
                                                              std::chrono::milliseconds timeout) {
    if (scope.native_stream() != nullptr) {
      throw uvm::invalid_argument(
          "uvm::thrust::emulated_policy: the scope is on the cuda backend; use "
          "uvm::thrust::par or with_policy in a translation unit compiled by nvcc");
    }
    return std::make_shared<const detail::stream_hold>(scope, timeout);
  }
  std::shared_ptr<const detail::stream_hold> hold_;  // shared by copies Thrust makes
};

#if defined(__CUDACC__)
/// @brief Thrust's temporary storage, ordered on a stream: cudaMallocAsync and cudaFreeAsync
/// from the device's default memory pool. Neither waits for the device, so an algorithm on one
/// stream never stalls behind a kernel on another that spins until the runtime serves it.
struct stream_ordered_allocator {
  using value_type = char;
  cudaStream_t stream = nullptr;

  /// @throws uvm::out_of_memory if the pool cannot grow by `n` bytes.
  char* allocate(std::ptrdiff_t n) {
    void* p = nullptr;
    if (const cudaError_t e = cudaMallocAsync(&p, static_cast<std::size_t>(n), stream);
        e != cudaSuccess) {
      (void)cudaGetLastError();  // this call's own error
      throw uvm::out_of_memory(std::string("uvm::thrust: cudaMallocAsync of temporary storage: ") +
                               cudaGetErrorString(e));
    }
    return static_cast<char*>(p);
  }
  void deallocate(char* p, std::size_t) noexcept {
    if (cudaFreeAsync(p, stream) != cudaSuccess) (void)cudaGetLastError();
  }
};

/// @brief `thrust::cuda::par.on(stream)` for the scope's stream, in a translation unit
/// compiled by nvcc, with its temporary storage from stream_ordered_allocator. Thrust's kernels
/// are enqueued after the stream's earlier work and, while the scope is open, before the epoch
/// ends; the algorithm synchronises the stream before it returns. Use it only while the scope is
/// open: it cannot tell that the scope has ended. Thrust launches on the current GPU, so this
/// makes the scope's GPU (scope.native_device()) current on the calling thread, and leaves it so.
/// @throws uvm::invalid_argument if the scope is on the emulated device (see with_policy);
/// uvm::cuda_error if its GPU cannot be made current.
[[nodiscard]] inline auto cuda_policy(const launch_scope& scope) {
  if (scope.native_stream() == nullptr) {
    throw uvm::invalid_argument(
        "uvm::thrust::cuda_policy: the scope is on the emulated device; use "
        "uvm::thrust::with_policy (or emulated_policy) there");
  }
  if (const cudaError_t e = cudaSetDevice(scope.native_device()); e != cudaSuccess) {
    (void)cudaGetLastError();  // this call's own error
    throw uvm::cuda_error(
        std::string("uvm::thrust::cuda_policy: cudaSetDevice: ") + cudaGetErrorString(e),
        static_cast<int>(e));
  }
  const auto s = static_cast<cudaStream_t>(scope.native_stream());
  return ::thrust::cuda::par(stream_ordered_allocator{s}).on(s);
}
#endif

/// @brief The execution policy of this translation unit for `scope`: cuda_policy(scope)
/// compiled by nvcc (the cuda backend), emulated_policy(scope) compiled by a host compiler (the
/// emulated device). Pass it as the algorithm's first argument.
/// @code
/// float* x = scope.device_pointer(v.data());
/// float total = thrust::reduce(uvm::thrust::par(scope), x, x + n, 0.0f);
/// @endcode
/// @throws uvm::invalid_argument if the scope's backend is not the one this translation unit
/// can run Thrust on, or (emulated device) the scope has ended; uvm::timeout as
/// emulated_policy.
[[nodiscard]] inline auto par(launch_scope& scope) {
#if defined(__CUDACC__)
  return cuda_policy(scope);
#else
  return emulated_policy(scope);
#endif
}

/// @brief Calls `f(policy)` with the policy `scope`'s backend needs: cuda_policy in a
/// translation unit compiled by nvcc on the cuda backend, emulated_policy on the emulated
/// device. For code that runs on both: nvcc compiles `f` for both policies, so functors passed
/// to the algorithms must be `__host__ __device__`, and named (a struct, or an extended lambda
/// made outside `f`): nvcc refuses an extended lambda inside a generic lambda.
/// @return what `f` returns (the same type for both policies).
/// @code
/// auto total = uvm::thrust::with_policy(scope, [&](auto&& policy) {
///   return thrust::reduce(policy, x, x + n, 0.0f);
/// });
/// @endcode
/// @throws what `f` throws; uvm::invalid_argument in a host translation unit on the cuda backend
/// or if the scope has ended; uvm::timeout as emulated_policy.
template <class F>
decltype(auto) with_policy(launch_scope& scope, F&& f) {
#if defined(__CUDACC__)
  if (scope.native_stream() != nullptr) return std::forward<F>(f)(cuda_policy(scope));
#endif
  return std::forward<F>(f)(emulated_policy(scope));
}

}  // namespace uvm::thrust
