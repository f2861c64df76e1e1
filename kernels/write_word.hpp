#pragma once

#include <cstdint>

#include <cuda_runtime_api.h>

namespace uvm::detail {

/// Enqueues `*dst = value` (device memory) on `s`, after everything enqueued there before.
cudaError_t enqueue_write_word(std::uint32_t* dst, std::uint32_t value, cudaStream_t s) noexcept;

}  // namespace uvm::detail
