#pragma once

// Turning CUDA runtime errors into uvm::cuda_error with the call, file and line. The sticky
// error state is cleared so the application's own CUDA calls are not blamed.

#include <uvm/error.hpp>

#include <string>

#include <cuda_runtime_api.h>
#include <fmt/format.h>

namespace uvm::detail {

[[noreturn]] inline void throw_cuda(cudaError_t e, const char* call, const char* file, int line) {
  cudaGetLastError();
  throw cuda_error(fmt::format("{} failed at {}:{}: {} ({})", call, file, line, cudaGetErrorName(e),
                               cudaGetErrorString(e)),
                   static_cast<int>(e));
}

}  // namespace uvm::detail

#define UVM_CUDA_TRY(call)                                                    \
  do {                                                                        \
    const cudaError_t uvm_cuda_status_ = (call);                              \
    if (uvm_cuda_status_ != cudaSuccess) {                                    \
      ::uvm::detail::throw_cuda(uvm_cuda_status_, #call, __FILE__, __LINE__); \
    }                                                                         \
  } while (false)
