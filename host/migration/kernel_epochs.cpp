#include "host/migration/kernel_epochs.hpp"

#include <uvm/error.hpp>

#include <fmt/format.h>

#include <algorithm>

namespace uvm::detail {

void kernel_epochs::begin() {
  std::unique_lock lock(mutex_);
  if (!served_.wait_for(lock, timeout_, [&] { return !cpu_waiting_; })) {
    throw uvm::timeout(fmt::format(
        "uvm: a launch waited {} ms (the fault timeout) for CPU faults that wait for the "
        "kernels in flight; they were not served",
        std::chrono::duration_cast<std::chrono::milliseconds>(timeout_).count()));
  }
  ++launching_;
}

void kernel_epochs::end(event e) {
  const std::lock_guard lock(mutex_);
  --launching_;
  if (e != nullptr) kernels_.push_back(std::move(e));
}

kernel_epochs::state kernel_epochs::poll() noexcept {
  const std::lock_guard lock(mutex_);
  const bool had = !kernels_.empty();
  std::erase_if(kernels_, [this](const event& e) { return backend_.query(e); });
  const bool busy = launching_ != 0 || !kernels_.empty();
  return {busy, had && !busy};
}

bool kernel_epochs::wait(std::chrono::nanoseconds timeout) noexcept {
  std::vector<event> pending;
  try {
    const std::lock_guard lock(mutex_);
    pending = kernels_;
  } catch (...) {
    return false;
  }
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (const event& e : pending) {
    const auto now = std::chrono::steady_clock::now();
    if (now >= deadline || !backend_.wait(e, deadline - now)) return false;
  }
  const std::lock_guard lock(mutex_);
  return launching_ == 0;
}

void kernel_epochs::cpu_faults_waiting(bool waiting) noexcept {
  {
    const std::lock_guard lock(mutex_);
    if (cpu_waiting_ == waiting) return;
    cpu_waiting_ = waiting;
  }
  if (!waiting) served_.notify_all();
}

}  // namespace uvm::detail
