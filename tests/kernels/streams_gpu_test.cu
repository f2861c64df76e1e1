// The stream cases compiled by nvcc: real kernels on a GPU where one is usable, CPU threads on
// the emulated device elsewhere.
#include "tests/common/stream_cases.hpp"
