#pragma once

/// @file
/// uvm::stream, an in-order queue of device work (kernels, copies), like a cudaStream_t.

#include <memory>

namespace uvm {

namespace detail {
class stream_base;
}

/// @brief A handle to a device stream created by uvm::manager::create_stream. Copies share the
/// stream. A default-constructed handle means the manager's default stream.
class stream {
 public:
  stream() noexcept = default;
  explicit stream(std::shared_ptr<detail::stream_base> s) noexcept : s_(std::move(s)) {}
  [[nodiscard]] bool is_default() const noexcept { return s_ == nullptr; }
  [[nodiscard]] const std::shared_ptr<detail::stream_base>& handle() const noexcept { return s_; }

 private:
  std::shared_ptr<detail::stream_base> s_;
};

}  // namespace uvm
