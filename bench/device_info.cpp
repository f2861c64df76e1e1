// uvm-device-info: the optional capabilities of each CUDA device and the paths the cuda backend
// takes for them (host/backend/device_capabilities.hpp), as one JSON object per line, for
// bench/gpu-check's record. Without a usable device it prints {"devices": 0, "reason": ...}
// and exits 0: the absence is the answer.
#include "host/backend/device_capabilities.hpp"
#include "host/backend/device_probe.hpp"

#include <cstdio>
#include <string>

int main() {
  using namespace uvm::detail;
  const device_probe p = probe_cuda_devices();
  if (p.devices == 0) {
    std::string reason;
    for (const char ch : p.reason) {
      if (ch == '"' || ch == '\\') reason += '\\';
      if (static_cast<unsigned char>(ch) >= 0x20) reason += ch;
    }
    std::printf("{\"devices\": 0, \"reason\": \"%s\"}\n", reason.c_str());
    return 0;
  }
  for (int d = 0; d < p.devices; ++d) {
    const device_capabilities c = probe_cuda_capabilities(d);
    std::printf("%s\n", to_json(c, choose_paths(c)).c_str());
    std::fprintf(stderr, "%s\n", describe(c, choose_paths(c)).c_str());
  }
  return 0;
}
