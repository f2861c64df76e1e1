#pragma once

// Records the page-access trace (trace_format.hpp) of a run: the signal handler and the
// service thread push records into a lock-free ring, and the service thread writes them out.

#include "host/common/bounded_queue.hpp"
#include "host/telemetry/trace_format.hpp"

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <string>

namespace uvm::detail {

class trace_writer {
 public:
  /// Creates `path` and writes the header.
  /// @throws uvm::system_error naming the file if it cannot be created.
  trace_writer(const std::string& path, std::uint64_t page_size);
  /// Writes what is left and closes the file.
  ~trace_writer();
  trace_writer(const trace_writer&) = delete;
  trace_writer& operator=(const trace_writer&) = delete;

  /// Async-signal-safe. A record that finds the ring full is dropped and counted.
  void push(const trace_record& r) noexcept {
    if (!ring_.try_push(r)) dropped_.fetch_add(1, std::memory_order_relaxed);
  }
  /// Writes the queued records (one thread at a time: the service thread).
  void drain() noexcept;

  [[nodiscard]] std::uint64_t dropped() const noexcept {
    return dropped_.load(std::memory_order_relaxed);
  }
  [[nodiscard]] const std::string& path() const noexcept { return path_; }

 private:
  std::string path_;
  std::FILE* file_;
  bounded_queue<trace_record, 1u << 16> ring_;
  std::atomic<std::uint64_t> dropped_{0};
};

}  // namespace uvm::detail
