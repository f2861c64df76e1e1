#pragma once

// Which device the suites' managers will drive, asked before sizing a run or choosing its
// baselines.

#include "bench/record.hpp"

#include <uvm/uvm.hpp>

#include <cstdio>
#include <string>

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

// The one record of a suite that needs a CUDA device and cannot run here, saying why (on stderr
// too): `compiled_by_nvcc` tells a build without the toolkit from an emulated backend.
[[nodiscard]] inline record needs_cuda(std::string suite, std::string unit, bool compiled_by_nvcc) {
  const std::string reason =
      compiled_by_nvcc
          ? "needs a CUDA device; the backend is emulated (no usable GPU, or UVM_BACKEND=emulated)"
          : "needs a CUDA device and a build with the CUDA toolkit; this build has none";
  std::fprintf(stderr, "uvm-bench: %s skipped: %s\n", suite.c_str(), reason.c_str());
  record r;
  r.suite = std::move(suite);
  r.name = "all";
  r.unit = std::move(unit);
  r.skipped = reason;
  return r;
}

}  // namespace bench
