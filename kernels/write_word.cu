// The one kernel the CUDA backend needs itself: a 32-bit store ordered on a stream, which
// publishes a page-table entry after the copy of its page.
#include "kernels/write_word.hpp"

namespace uvm::detail {

namespace {
__global__ void write_word_kernel(std::uint32_t* dst, std::uint32_t value) {
  *reinterpret_cast<volatile std::uint32_t*>(dst) = value;
}
}  // namespace

cudaError_t enqueue_write_word(std::uint32_t* dst, std::uint32_t value, cudaStream_t s) noexcept {
  write_word_kernel<<<1, 1, 0, s>>>(dst, value);
  return cudaGetLastError();
}

}  // namespace uvm::detail
