#pragma once

// The kernels in flight, manager-wide, and the fairness rule between them and CPU faults: a CPU
// fault on a page a kernel may use waits for the kernels in flight, and while such faults wait,
// new launches wait for them to be served, so a CPU fault waits at most for the kernels that
// were in flight when it arrived (a thread relaunching kernels back to back cannot starve it).
//
// Thread-safe, with a lock of its own; a caller may hold its own lock around poll() and
// in_flight(), but not around begin() or wait(), which block.

#include "host/backend/backend.hpp"

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <mutex>
#include <vector>

namespace uvm::detail {

class kernel_epochs {
 public:
  /// `timeout` bounds begin()'s wait for CPU faults.
  kernel_epochs(backend& b, std::chrono::nanoseconds timeout) : backend_(b), timeout_(timeout) {}

  /// Marks a launch about to be enqueued, after the CPU faults waiting now are served.
  /// @throws uvm::timeout if they are not served within the timeout (nothing is marked).
  void begin();
  /// The launch marked by begin() is enqueued; `e` completes after it (null: a launch that
  /// failed to enqueue, or whose stream broke: nothing to wait for).
  void end(event e);

  struct state {
    bool in_flight;  ///< kernels are running, or a launch is being enqueued
    bool ended;      ///< the last kernels finished since the previous poll (an epoch ended)
  };
  /// Retires the kernels that finished.
  [[nodiscard]] state poll() noexcept;

  /// Waits for the kernels in flight now. @return false if some still ran at `timeout` (or a
  /// launch was still being enqueued).
  [[nodiscard]] bool wait(std::chrono::nanoseconds timeout) noexcept;

  /// Whether CPU faults wait for kernels in flight (the fault service says so after each batch).
  void cpu_faults_waiting(bool waiting) noexcept;

 private:
  backend& backend_;
  std::chrono::nanoseconds timeout_;
  std::mutex mutex_;
  std::condition_variable served_;
  std::vector<event> kernels_;  // enqueued, not yet known to be finished
  std::size_t launching_ = 0;   // begin() without end() yet
  bool cpu_waiting_ = false;
};

}  // namespace uvm::detail
