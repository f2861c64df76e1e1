#include "host/fault/acquire_fault_source.hpp"

#include "host/fault/signal_fault_source.hpp"
#include "host/fault/userfaultfd_fault_source.hpp"
#include "host/telemetry/log.hpp"

#include <mutex>
#include <string>

namespace uvm::detail {

std::shared_ptr<fault_source> acquire_fault_source(fault_mechanism requested) {
  switch (requested) {
    case fault_mechanism::signal: return signal_fault_source::acquire();
    case fault_mechanism::userfaultfd: return userfaultfd_fault_source::acquire();
    case fault_mechanism::automatic: break;
  }
  // Whether userfaultfd is usable does not change during a run: probe once.
  static const std::string why = userfaultfd_fault_source::unavailable_reason();
  if (why.empty()) return userfaultfd_fault_source::acquire();
  static std::once_flag said;
  std::call_once(said, [] {
    log().info("fault mechanism auto: using signal, as userfaultfd is unavailable: {}", why);
  });
  return signal_fault_source::acquire();
}

}  // namespace uvm::detail
