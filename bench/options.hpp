#pragma once

// What the command line passes to every suite.

namespace bench {

struct options {
  // Fewer, smaller samples so a whole run takes seconds (smoke tests, CI).
  bool quick = false;
};

}  // namespace bench
