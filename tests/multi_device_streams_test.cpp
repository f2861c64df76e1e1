// The stream cases (attachment, declared launches, stream-ordered prefetch and discard, the CPU
// during kernels) on two emulated devices: each stream a case makes goes to the next device, so
// attachment and declarations hold per device, and a kernel's pages come from another device's
// frames as often as from the host.
#define UVM_STREAM_CASES_DEVICES 2
#include "tests/common/stream_cases.hpp"
