#pragma once

// A CPU fault handed from the signal handler to the fault service thread. It lives on the
// faulting thread's stack, which waits on `status` until the service completes it.

#include "host/memory/access.hpp"

#include <atomic>
#include <cstddef>
#include <cstdint>

namespace uvm::detail {

class managed_range;
class range_gate;

struct fault_request {
  enum : std::uint32_t { pending = 0, done = 1, failed = 2 };

  managed_range* range;
  range_gate* gate = nullptr;  ///< the range's, if it is shared with other processes
  std::size_t page;
  access kind;
  std::atomic<std::uint32_t> status{pending};
  int error = 0;  ///< errno-style reason when `failed`; written before status
  // Where its time went (now_ns), for stats::serviced_stages: handed over by the handler, first
  // taken by the service thread, resolution started, completed (written before status).
  std::uint64_t posted_ns = 0;
  std::uint64_t taken_ns = 0;
  std::uint64_t started_ns = 0;
  std::uint64_t completed_ns = 0;
};

}  // namespace uvm::detail
