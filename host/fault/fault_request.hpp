#pragma once

// A CPU fault handed from the signal handler to the fault service thread. It lives on the
// faulting thread's stack, which waits on `status` until the service completes it.

#include "host/coherence/transition.hpp"

#include <atomic>
#include <cstddef>
#include <cstdint>

namespace uvm::detail {

class managed_range;

struct fault_request {
  enum : std::uint32_t { pending = 0, done = 1, failed = 2 };

  managed_range* range;
  std::size_t page;
  access kind;
  std::atomic<std::uint32_t> status{pending};
  int error = 0;  ///< errno-style reason when `failed`; written before status
};

}  // namespace uvm::detail
