#pragma once

// CPU faults through mprotect on the app views and one process-wide SIGSEGV handler. The
// handler is installed when the first manager starts and restored when the last one ends.
// Faults outside every range go to the action that was installed before, exactly.

#include "host/memory/view_protection.hpp"

#include <memory>

namespace uvm::detail {

class signal_fault_source final : public view_protection {
 public:
  /// @return the process's instance, installing the handler if this is the first user.
  /// @throws uvm::system_error if sigaction fails.
  static std::shared_ptr<signal_fault_source> acquire();

  ~signal_fault_source() override;

 private:
  signal_fault_source();
  int do_protect(const view_span& v, host_access from, host_access to) noexcept override;
  std::string_view do_name() const noexcept override { return "signal"; }
};

}  // namespace uvm::detail
