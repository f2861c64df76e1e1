#pragma once

// What the command line passes to every suite.

namespace bench {

struct options {
  // Fewer, smaller samples so a whole run takes seconds (smoke tests, CI).
  bool quick = false;
  // um-compare: run the managed-memory half of the oversubscription pattern, which allocates
  // more managed memory than the GPU has free. That can hang the GPU, so it is off by default.
  bool allow_managed_oversubscription = false;
};

}  // namespace bench
