#pragma once

// What a range shared beyond this process (a cluster range) asks before a CPU fault may widen a
// page's access: the grant of the page's home, which also brings the page's data and changes
// the page's state. The fault service calls it for a gated range's faults (fault_request::gate)
// instead of the resolver. Non-virtual interface.

#include "host/memory/access.hpp"

#include <cstddef>

namespace uvm::detail {

class range_gate {
 public:
  virtual ~range_gate() = default;

  /// Returns once the page allows `a` (the access then retries), on the service thread; may
  /// wait for other processes, for the fault timeout at most.
  /// @return 0, or an errno-style code that the faulting thread reports (ETIMEDOUT: the home
  /// did not answer; EIO: the page is lost, or a process stopped answering).
  [[nodiscard]] int widen(std::size_t page, access a) noexcept { return do_widen(page, a); }

 private:
  virtual int do_widen(std::size_t page, access a) noexcept = 0;
};

}  // namespace uvm::detail
