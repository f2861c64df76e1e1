// CPU and kernels at once on the emulated device: stream attachment, declared launches,
// stream-ordered prefetch and discard (the cases are shared with the GPU build).
#include "tests/common/stream_cases.hpp"
