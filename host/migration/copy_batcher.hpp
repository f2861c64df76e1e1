#pragma once

// Coalesces page copies: a copy that continues the previous one in both source and destination
// extends it, so contiguous pages in contiguous frames move in one transfer.

#include "host/backend/backend.hpp"

#include <cstddef>

namespace uvm::detail {

class copy_batcher {
 public:
  copy_batcher(backend& b, copy_kind kind) : backend_(b), kind_(kind) {}

  /// @return the bytes queued so far.
  std::size_t add(std::byte* dst, const std::byte* src, std::size_t bytes, const stream& s) {
    if (bytes_ != 0 && dst == dst_ + bytes_ && src == src_ + bytes_) {
      bytes_ += bytes;
    } else {
      flush(s);
      dst_ = dst;
      src_ = src;
      bytes_ = bytes;
    }
    total_ += bytes;
    return total_;
  }

  void flush(const stream& s) {
    if (bytes_ != 0) backend_.copy_async(dst_, src_, bytes_, kind_, s);
    bytes_ = 0;
  }

  [[nodiscard]] std::size_t total() const noexcept { return total_; }

 private:
  backend& backend_;
  copy_kind kind_;
  std::byte* dst_ = nullptr;
  const std::byte* src_ = nullptr;
  std::size_t bytes_ = 0;
  std::size_t total_ = 0;
};

}  // namespace uvm::detail
