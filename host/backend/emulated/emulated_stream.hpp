#pragma once

// A stream of the emulated device: an in-order queue of operations and the thread that runs them.
// The backend owns the queue (stream_core) so that it can join the thread; the handle the caller
// holds (emulated_stream) only closes it, and the thread finishes what was queued before exiting.

#include "host/backend/backend.hpp"
#include "host/backend/emulated/error_sink.hpp"

#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

namespace uvm::detail {

class stream_core {
 public:
  /// Starts the worker thread, named "uvm-stream-<name>" (truncated to 15 characters).
  stream_core(std::string_view name, error_sink& errors);
  /// Closes and joins.
  ~stream_core();
  stream_core(const stream_core&) = delete;
  stream_core& operator=(const stream_core&) = delete;

  /// Appends `op`; it runs after every operation enqueued before it has finished.
  /// @throws uvm::invalid_argument if the stream was closed (its backend was destroyed).
  void enqueue(std::function<void()> op);
  /// Appends `op` unless the stream is idle (nothing queued, nothing running): then nothing is
  /// appended and false is returned, so the caller can do at once what needs no earlier work.
  /// @throws uvm::invalid_argument if the stream was closed.
  [[nodiscard]] bool enqueue_unless_idle(std::function<void()> op);
  /// Runs `op` on the calling thread if the stream is idle, as its thread would (operations
  /// enqueued meanwhile wait for it; a throw goes to the error sink), and returns true; returns
  /// false, running nothing, if it is not idle. A short copy the caller waits for anyway then
  /// costs no hand-off to the stream's thread and back.
  /// @throws uvm::invalid_argument if the stream was closed.
  [[nodiscard]] bool run_if_idle(const std::function<void()>& op);

  /// No more operations: the thread finishes those queued and exits.
  void close() noexcept;
  /// Closes and waits for the thread to exit.
  void join() noexcept;
  /// @return true once the thread has exited (after close()); join() then returns at once.
  [[nodiscard]] bool exited() const noexcept { return exited_.load(std::memory_order_acquire); }

 private:
  void run() noexcept;
  void run_one(const std::function<void()>& op) noexcept;  // a throw goes to the error sink

  const std::string thread_name_;
  error_sink& errors_;
  std::mutex mutex_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> queue_;
  bool closing_ = false;
  bool running_ = false;  // an operation is running (under mutex_)
  std::atomic<bool> exited_{false};
  std::mutex join_mutex_;  // join() may race between the backend's reaping and its destructor
  std::thread thread_;     // last: starts once everything above exists
};

/// The handle create_stream returns. Dropping it while operations are queued is fine: they still
/// run. It must not be used after the backend is destroyed.
class emulated_stream final : public stream_base {
 public:
  emulated_stream(std::shared_ptr<stream_core> core, device_id d)
      : core_(std::move(core)), device_(d) {}
  ~emulated_stream() override { core_->close(); }
  emulated_stream(const emulated_stream&) = delete;
  emulated_stream& operator=(const emulated_stream&) = delete;

  [[nodiscard]] stream_core& core() const noexcept { return *core_; }
  [[nodiscard]] device_id device() const noexcept { return device_; }

 private:
  std::shared_ptr<stream_core> core_;
  device_id device_;
};

}  // namespace uvm::detail
