#pragma once

// What the command line passes to every suite.

#include <string>

namespace bench {

struct options {
  // Fewer, smaller samples so a whole run takes seconds (smoke tests, CI).
  bool quick = false;
  // um-compare: run the managed-memory half of the oversubscription pattern, which allocates
  // more managed memory than the GPU has free. That can hang the GPU, so it is off by default.
  bool allow_managed_oversubscription = false;
  // workloads: where each run records its page-access trace (UVM_TRACE format), one file per
  // workload and budget; empty: no traces.
  std::string trace_dir;
  // workloads: the size of every workload (0: 1 with --quick, else 3).
  unsigned scale = 0;
};

}  // namespace bench
