#include "host/fault/sources/acquire_fault_source.hpp"

#include "host/fault/sources/signal_fault_source.hpp"
#include "host/fault/sources/userfaultfd_fault_source.hpp"
#include "host/telemetry/log.hpp"

#include <mutex>
#include <string>

#include <unistd.h>

namespace uvm::detail {

std::shared_ptr<view_protection> acquire_fault_source(fault_mechanism requested) {
  switch (requested) {
    case fault_mechanism::signal: return signal_fault_source::acquire();
    case fault_mechanism::userfaultfd: return userfaultfd_fault_source::acquire();
    case fault_mechanism::automatic: break;
  }
  // Whether userfaultfd is usable does not change during a run: probe once per process (a
  // child of fork() may have dropped privileges) and say once why it is not used.
  static std::mutex mutex;
  static pid_t probed_in = 0;
  static std::string why;
  {
    std::lock_guard lock(mutex);
    if (probed_in != getpid()) {
      why = userfaultfd_fault_source::unavailable_reason();
      probed_in = getpid();
      if (!why.empty()) {
        log().info("fault mechanism auto: using signal, as userfaultfd is unavailable: {}", why);
      }
    }
    if (!why.empty()) return signal_fault_source::acquire();
  }
  return userfaultfd_fault_source::acquire();
}

}  // namespace uvm::detail
