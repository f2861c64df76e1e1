#pragma once

// Where the emulated device's worker threads report failures (a throwing kernel body) that have
// no caller to throw to. Sticky like a CUDA error: the first one is kept until it is taken.

#include <cstddef>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>

#include <fmt/format.h>

namespace uvm::detail {

class error_sink {
 public:
  void report(std::string_view what) noexcept {
    try {
      const std::lock_guard lock(mutex_);
      if (first_.empty()) {
        first_ = what;
      } else {
        ++more_;
      }
    } catch (...) {
      // Out of memory while reporting: the error is lost, the worker thread must survive.
    }
  }

  /// @return the first error since the last call ("" if none), noting how many followed it.
  [[nodiscard]] std::string take() {
    const std::lock_guard lock(mutex_);
    std::string e = std::exchange(first_, {});
    if (more_ > 0) e += fmt::format(" (and {} more)", std::exchange(more_, 0));
    return e;
  }

 private:
  std::mutex mutex_;
  std::string first_;
  std::size_t more_ = 0;
};

}  // namespace uvm::detail
