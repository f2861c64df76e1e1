#pragma once

// The fault mechanism a test run exercises. ctest runs every suite that takes CPU faults once as
// configured (`auto`: userfaultfd where the process may use it) and once more with
// UVM_FAULT_MECHANISM=signal (the `.signal` tests); suites take their managers' mechanism and
// their fault sources from here, so one fixture covers both.

#include "host/fault/sources/acquire_fault_source.hpp"

#include <uvm/config.hpp>

#include <cstdlib>
#include <memory>
#include <string_view>

namespace uvm::testing {

[[nodiscard]] inline fault_mechanism test_mechanism() {
  const char* v = std::getenv("UVM_FAULT_MECHANISM");
  const std::string_view s = v != nullptr ? v : "";
  if (s == "signal") return fault_mechanism::signal;
  if (s == "userfaultfd") return fault_mechanism::userfaultfd;
  return fault_mechanism::automatic;
}

/// The process's fault source for this run's mechanism.
[[nodiscard]] inline std::shared_ptr<detail::view_protection> test_fault_source() {
  return detail::acquire_fault_source(test_mechanism());
}

/// Whether this run's faults go through userfaultfd.
[[nodiscard]] inline bool under_userfaultfd() {
  return test_fault_source()->name() == "userfaultfd";
}

/// A default configuration with this run's mechanism.
[[nodiscard]] inline config test_config() {
  config c;
  c.faults = test_mechanism();
  return c;
}

}  // namespace uvm::testing
