#include "host/backend/emulated/emulated_stream.hpp"

#include "host/common/check.hpp"
#include "host/telemetry/nvtx.hpp"

#include <exception>
#include <utility>

namespace uvm::detail {

stream_core::stream_core(std::string_view name, error_sink& errors)
    : thread_name_("uvm-stream-" + std::string(name)),
      errors_(errors),
      thread_([this] { run(); }) {}

stream_core::~stream_core() {
  join();
}

// The stream's thread is woken only where it can start something: while an operation runs
// (on it, or on a caller's thread through run_if_idle) whoever ends that operation looks at the
// queue. A wake-up that finds nothing to do costs the waker a futex call and the machine two
// context switches, per copy on the fault path.

void stream_core::enqueue(std::function<void()> op) {
  bool wake = false;
  {
    const std::lock_guard lock(mutex_);
    UVM_EXPECTS(!closing_, "emulated stream '{}' used after it was closed", thread_name_);
    queue_.push_back(std::move(op));
    wake = !running_;
  }
  if (wake) cv_.notify_one();
}

bool stream_core::enqueue_unless_idle(std::function<void()> op) {
  bool wake = false;
  {
    const std::lock_guard lock(mutex_);
    UVM_EXPECTS(!closing_, "emulated stream '{}' used after it was closed", thread_name_);
    if (queue_.empty() && !running_) return false;
    queue_.push_back(std::move(op));
    wake = !running_;
  }
  if (wake) cv_.notify_one();
  return true;
}

bool stream_core::run_if_idle(const std::function<void()>& op) {
  {
    const std::lock_guard lock(mutex_);
    UVM_EXPECTS(!closing_, "emulated stream '{}' used after it was closed", thread_name_);
    if (!queue_.empty() || running_) return false;
    running_ = true;  // the stream's thread starts nothing until it is cleared
  }
  run_one(op);
  bool wake = false;
  {
    const std::lock_guard lock(mutex_);
    running_ = false;
    wake = !queue_.empty() || closing_;  // what was enqueued (or closed) meanwhile
  }
  if (wake) cv_.notify_one();
  return true;
}

void stream_core::run_one(const std::function<void()>& op) noexcept {
  try {
    op();
  } catch (const std::exception& e) {
    errors_.report(e.what());
  } catch (...) {
    errors_.report("emulated stream operation threw a non-standard exception");
  }
}

void stream_core::close() noexcept {
  {
    const std::lock_guard lock(mutex_);
    closing_ = true;
  }
  cv_.notify_one();
}

void stream_core::join() noexcept {
  close();
  const std::lock_guard lock(join_mutex_);
  if (thread_.joinable()) thread_.join();
}

void stream_core::run() noexcept {
  name_thread(thread_name_.c_str());
  for (;;) {
    std::function<void()> op;
    {
      std::unique_lock lock(mutex_);
      // An operation running on a caller's thread (run_if_idle) goes first.
      cv_.wait(lock, [this] { return !running_ && (!queue_.empty() || closing_); });
      if (queue_.empty()) break;  // closed and drained
      op = std::move(queue_.front());
      queue_.pop_front();
      running_ = true;
    }
    run_one(op);
    op = nullptr;  // what it captured goes before the stream counts as idle
    const std::lock_guard lock(mutex_);
    running_ = false;
  }
  exited_.store(true, std::memory_order_release);
}

}  // namespace uvm::detail
