#pragma once

// The emulated device's multiprocessors: threads, shared by every stream, that run the chunks of
// a kernel grid. Only they run chunks, and a chunk holds its thread until it returns: while one
// kernel's chunks occupy every thread, no other kernel starts, as no block starts on a GPU whose
// SMs are all held (blocks are never pre-empted). Grids are served in launch order.

#include "host/backend/backend.hpp"
#include "host/backend/emulated/error_sink.hpp"

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

namespace uvm::detail {

class kernel_pool {
 public:
  /// @param workers pool threads (at least 1).
  /// @param device the device they are: device code they run reads it as current_device().
  kernel_pool(unsigned workers, error_sink& errors, device_id device = 0);
  /// Joins the pool threads. Every run() must have returned.
  ~kernel_pool();
  kernel_pool(const kernel_pool&) = delete;
  kernel_pool& operator=(const kernel_pool&) = delete;

  [[nodiscard]] unsigned workers() const noexcept { return static_cast<unsigned>(threads_.size()); }

  /// Runs `body` over [0, n) in chunks on the pool's threads, and returns once every chunk has
  /// finished. An exception from `body` is reported to the error sink; the remaining
  /// chunks still run.
  void run(std::size_t n, kernel_body body);

  /// Waits until no kernel runs (what a device-memory free waits for on a GPU).
  /// @return false if kernels still ran at `timeout`.
  [[nodiscard]] bool wait_idle(std::chrono::nanoseconds timeout);

 private:
  struct grid;

  void work(unsigned index, device_id device) noexcept;
  void execute(grid& g) noexcept;
  /// Reports the exception being handled, thrown by `body` over [begin, end).
  void report_current(std::size_t begin, std::size_t end) noexcept;
  void stop() noexcept;

  error_sink& errors_;
  std::mutex mutex_;
  std::condition_variable cv_;
  // One entry per pool thread asked to help; an entry may outlive its grid's last chunk, which is
  // why grids are shared: a late helper just finds no chunk left.
  std::deque<std::shared_ptr<grid>> help_;
  bool stopping_ = false;
  std::size_t running_ = 0;  // grids in run(); guarded by mutex_
  std::condition_variable idle_;
  std::vector<std::thread> threads_;  // last: started once everything above exists
};

}  // namespace uvm::detail
