#pragma once

// Words in host memory that the CPU and a running kernel both reach, for tests and benchmarks
// whose kernels hold until the host says so: mapped pinned memory on a GPU (when compiled by
// nvcc and the manager drives one), plain memory on the emulated device. Device code reads them
// with uvm::detail::load_acquire and writes them with store_release.

#include <uvm/error.hpp>
#include <uvm/manager.hpp>

#include <atomic>
#include <cstdint>
#include <cstring>

#if defined(__CUDACC__)
#include <cuda_runtime.h>
#endif

namespace uvm::kernels {

class host_words {
 public:
  static constexpr unsigned count = 16;

  explicit host_words(manager& m) {
#if defined(__CUDACC__)
    if (m.backend() == backend_kind::cuda) {
      void* p = nullptr;
      if (cudaHostAlloc(&p, count * 4, cudaHostAllocMapped) != cudaSuccess) {
        throw error("host_words: cudaHostAlloc failed");
      }
      host_ = static_cast<std::uint32_t*>(p);
      void* d = nullptr;
      if (cudaHostGetDevicePointer(&d, p, 0) != cudaSuccess) {
        cudaFreeHost(p);
        throw error("host_words: cudaHostGetDevicePointer failed");
      }
      device_ = static_cast<std::uint32_t*>(d);
      pinned_ = true;
    }
#endif
    (void)m;
    if (host_ == nullptr) host_ = device_ = new std::uint32_t[count];
    std::memset(host_, 0, count * 4);
  }
  ~host_words() {
#if defined(__CUDACC__)
    if (pinned_) {
      (void)cudaFreeHost(host_);
      return;
    }
#endif
    delete[] host_;
  }
  host_words(const host_words&) = delete;
  host_words& operator=(const host_words&) = delete;

  /// The address device code uses.
  [[nodiscard]] std::uint32_t* device() const noexcept {
    return device_;
  }
  [[nodiscard]] std::uint32_t get(unsigned i) const noexcept {
    return std::atomic_ref<std::uint32_t>(host_[i]).load();
  }
  void set(unsigned i, std::uint32_t v) noexcept {
    std::atomic_ref<std::uint32_t>(host_[i]).store(v);
  }

 private:
  std::uint32_t* host_ = nullptr;
  std::uint32_t* device_ = nullptr;
  bool pinned_ = false;
};

}  // namespace uvm::kernels
