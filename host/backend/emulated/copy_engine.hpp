#pragma once

// One DMA engine of the emulated device: a thread that performs copies one at a time in arrival
// order. The backend has one per direction, so copies in one direction from any number of
// streams are serialised while host-to-device and device-to-host overlap, as on a GPU.

#include "host/backend/emulated/completion.hpp"

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

namespace uvm::detail {

class copy_engine {
 public:
  /// @param thread_name the engine thread's name, e.g. "uvm-ce-h2d".
  explicit copy_engine(std::string thread_name);
  /// Finishes the copies already submitted, then joins the thread.
  ~copy_engine();
  copy_engine(const copy_engine&) = delete;
  copy_engine& operator=(const copy_engine&) = delete;

  /// Copies on the engine thread and returns once the bytes have landed. With `words`, the copy
  /// is of aligned 32-bit words, each read (acquire) and stored (release) whole, for memory
  /// that device code reads or changes meanwhile (page-table entries, control words).
  void copy(void* dst, const void* src, std::size_t bytes, bool words = false);

 private:
  struct job {
    void* dst;
    const void* src;
    std::size_t bytes;
    bool words;
    completion done;
  };

  void run() noexcept;

  const std::string thread_name_;
  std::mutex mutex_;
  std::condition_variable cv_;
  std::deque<std::shared_ptr<job>> queue_;  // shared: the submitter may return before the wake
  bool stopping_ = false;
  std::thread thread_;  // last: starts once everything above exists
};

}  // namespace uvm::detail
