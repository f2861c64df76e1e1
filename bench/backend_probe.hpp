#pragma once

// Which device the suites' managers will drive, asked before sizing a run or choosing its
// baselines.

#include <uvm/uvm.hpp>

namespace bench {

// The backend a manager configured from the environment resolves to (UVM_BACKEND, then whether a
// CUDA device is usable). Asks a throwaway manager with a one-page budget, so the answer is the
// library's own and no device memory is held.
[[nodiscard]] inline uvm::backend_kind probe_backend() {
  uvm::config cfg = uvm::config::from_env();
  cfg.device_budget = cfg.page_size;
  cfg.trace_path.clear();
  return uvm::manager(cfg).backend();
}

}  // namespace bench
