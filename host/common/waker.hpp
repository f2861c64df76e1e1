#pragma once

// A callback another thread installs to be woken by: a function and its argument, set and
// cleared while callers may be calling it. Calling it is async-signal-safe if the function is.

#include <atomic>

namespace uvm::detail {

class waker {
 public:
  /// Installs `fn(arg)`; null: none. `arg` must stay valid until set(nullptr, nullptr).
  void set(void (*fn)(void*), void* arg) noexcept {
    if (fn != nullptr) arg_ = arg;
    fn_.store(fn, std::memory_order_release);
  }
  /// Calls the installed function, if any.
  void operator()() const noexcept {
    if (auto* fn = fn_.load(std::memory_order_acquire); fn != nullptr) fn(arg_);
  }

 private:
  std::atomic<void (*)(void*)> fn_{nullptr};
  void* arg_ = nullptr;
};

}  // namespace uvm::detail
