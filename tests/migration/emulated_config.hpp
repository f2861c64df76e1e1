#pragma once

// The configuration the device-side tests run under: the emulated device, a page size and a
// device budget of the test's choosing (0: the default).

#include "tests/common/fault_mechanism.hpp"

#include <uvm/config.hpp>

#include <cstddef>

namespace uvm::testing {

inline config emulated(std::size_t page_size = std::size_t{64} << 10, std::size_t budget = 0) {
  config c = test_config();
  c.backend = backend_kind::emulated;
  c.page_size = page_size;
  c.device_budget = budget;
  return c;
}

}  // namespace uvm::testing
