#pragma once

// CUDA runtime helpers for the suites that nvcc compiles (see bench/CMakeLists.txt): checked
// calls that throw, owning handles, and the device's free memory. Empty unless compiled by nvcc,
// so the same suites build with g++ for the emulated device.

#if defined(__CUDACC__)

#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>

namespace bench {

// Clears the sticky error a failed launch leaves, then throws naming the call and where.
[[noreturn]] inline void throw_cuda(cudaError_t e, const char* call, const char* file, int line) {
  (void)cudaGetLastError();
  throw std::runtime_error(std::string(file) + ":" + std::to_string(line) + ": " + call + ": " +
                           cudaGetErrorName(e) + ": " + cudaGetErrorString(e));
}

}  // namespace bench

#define UVM_BENCH_CUDA_CHECK(call)                                                                 \
  do {                                                                                             \
    const cudaError_t uvm_bench_e_ = (call);                                                       \
    if (uvm_bench_e_ != cudaSuccess) ::bench::throw_cuda(uvm_bench_e_, #call, __FILE__, __LINE__); \
  } while (0)

namespace bench {

struct cuda_free {
  void operator()(void* p) const noexcept { (void)cudaFree(p); }
};
struct cuda_free_host {
  void operator()(void* p) const noexcept { (void)cudaFreeHost(p); }
};

// cudaMalloc and cudaMallocManaged memory (both freed with cudaFree).
template <class T>
using device_ptr = std::unique_ptr<T[], cuda_free>;
// cudaMallocHost memory: pinned, so copies to and from it are DMA at the link's speed.
template <class T>
using pinned_ptr = std::unique_ptr<T[], cuda_free_host>;

template <class T>
[[nodiscard]] device_ptr<T> device_alloc(std::size_t count) {
  void* p = nullptr;
  UVM_BENCH_CUDA_CHECK(cudaMalloc(&p, count * sizeof(T)));
  return device_ptr<T>(static_cast<T*>(p));
}

// Managed memory. Callers check managed_fits first: the suites never ask for more managed
// memory than the device has free, unless the user explicitly allowed oversubscription.
template <class T>
[[nodiscard]] device_ptr<T> managed_alloc(std::size_t count) {
  void* p = nullptr;
  UVM_BENCH_CUDA_CHECK(cudaMallocManaged(&p, count * sizeof(T), cudaMemAttachGlobal));
  return device_ptr<T>(static_cast<T*>(p));
}

template <class T>
[[nodiscard]] pinned_ptr<T> pinned_alloc(std::size_t count) {
  void* p = nullptr;
  UVM_BENCH_CUDA_CHECK(cudaMallocHost(&p, count * sizeof(T)));
  return pinned_ptr<T>(static_cast<T*>(p));
}

// Device memory free now, as cudaMemGetInfo reports it.
[[nodiscard]] inline std::size_t free_device_memory() {
  std::size_t free = 0, total = 0;
  UVM_BENCH_CUDA_CHECK(cudaMemGetInfo(&free, &total));
  return free;
}

[[nodiscard]] inline int sm_count() {
  int device = 0, sms = 0;
  UVM_BENCH_CUDA_CHECK(cudaGetDevice(&device));
  UVM_BENCH_CUDA_CHECK(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, device));
  return sms;
}

// A non-blocking stream (it does not wait for the legacy default stream).
class cuda_stream {
 public:
  cuda_stream() { UVM_BENCH_CUDA_CHECK(cudaStreamCreateWithFlags(&s_, cudaStreamNonBlocking)); }
  ~cuda_stream() { (void)cudaStreamDestroy(s_); }
  cuda_stream(const cuda_stream&) = delete;
  cuda_stream& operator=(const cuda_stream&) = delete;
  [[nodiscard]] cudaStream_t get() const noexcept { return s_; }

 private:
  cudaStream_t s_ = nullptr;
};

// Two events around work on one stream: its device time, without the host's launch and
// synchronisation costs.
class event_timer {
 public:
  event_timer() {
    UVM_BENCH_CUDA_CHECK(cudaEventCreate(&start_));
    UVM_BENCH_CUDA_CHECK(cudaEventCreate(&stop_));
  }
  ~event_timer() {
    (void)cudaEventDestroy(start_);
    (void)cudaEventDestroy(stop_);
  }
  event_timer(const event_timer&) = delete;
  event_timer& operator=(const event_timer&) = delete;

  void start(cudaStream_t s) { UVM_BENCH_CUDA_CHECK(cudaEventRecord(start_, s)); }
  void stop(cudaStream_t s) { UVM_BENCH_CUDA_CHECK(cudaEventRecord(stop_, s)); }
  // Waits for the stop event. @return nanoseconds between the two events.
  [[nodiscard]] std::uint64_t elapsed_ns() {
    UVM_BENCH_CUDA_CHECK(cudaEventSynchronize(stop_));
    float ms = 0;
    UVM_BENCH_CUDA_CHECK(cudaEventElapsedTime(&ms, start_, stop_));
    return static_cast<std::uint64_t>(static_cast<double>(ms) * 1e6);
  }

 private:
  cudaEvent_t start_ = nullptr;
  cudaEvent_t stop_ = nullptr;
};

}  // namespace bench

#endif  // __CUDACC__
