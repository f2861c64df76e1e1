#pragma once

// One DMA engine of the emulated device: copies run one at a time. A device has one engine per
// direction, so copies in one direction from any number of streams are serialised while
// host-to-device, device-to-host and device-to-device overlap, as on a GPU.
//
// Where a copy runs: a small one issued on an idle stream while the engine is free, on the thread
// that issued it (try_copy: it has landed when copy_async returns); another small one on the
// thread of the stream that issued it (the stream waits
// for its copy anyway, and a hand-off to another thread costs two context switches, which a
// GPU's engine does not: on a 2-vCPU machine that halved the time a CPU fault on a device page
// spends copying 64 KiB); a large one (handoff_bytes and up) on the engine's own thread, where
// the hand-off costs little and bulk copies ran faster (the migrate suite's device-to-host rate
// at 64 KiB and 2 MiB pages fell by about a tenth when they ran on the stream's thread).

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
  static constexpr std::size_t handoff_bytes = std::size_t{1} << 20;

  /// @param thread_name the engine thread's name, e.g. "uvm-ce-h2d".
  explicit copy_engine(std::string thread_name);
  /// Finishes the copies already handed over, then joins the engine's thread.
  ~copy_engine();
  copy_engine(const copy_engine&) = delete;
  copy_engine& operator=(const copy_engine&) = delete;

  /// Copies once the engine is free and returns once the bytes have landed. With `words`, the
  /// copy is of aligned 32-bit words, each read (acquire) and stored (release) whole, for memory
  /// that device code reads or changes meanwhile (page-table entries, control words).
  void copy(void* dst, const void* src, std::size_t bytes, bool words = false);

  /// Copies now, on the calling thread, if the copy is short (below handoff_bytes) and the
  /// engine is free: @return true once it has landed; false, copying nothing, otherwise. What
  /// issues a copy never blocks on a busy engine, as cudaMemcpyAsync does not.
  [[nodiscard]] bool try_copy(void* dst, const void* src, std::size_t bytes, bool words = false);

 private:
  struct job {
    void* dst;
    const void* src;
    std::size_t bytes;
    completion done;
  };

  void run() noexcept;
  void copy_now(void* dst, const void* src, std::size_t bytes, bool words) noexcept;  // busy_ held

  const std::string thread_name_;
  std::mutex busy_;  // held for each copy, wherever it runs: one at a time
  std::mutex queue_mutex_;
  std::condition_variable cv_;
  std::deque<std::shared_ptr<job>> queue_;  // shared: the submitter may return before the wake
  bool stopping_ = false;
  std::thread thread_;  // last: starts once everything above exists
};

}  // namespace uvm::detail
