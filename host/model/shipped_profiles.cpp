#include "host/model/shipped_profiles.hpp"

namespace uvm::detail {

namespace {

// GPGPU-Sim UVMSmart's GTX 1080 Ti (configs/GeForceGTX1080Ti/gpgpusim.config and
// src/gpgpu-sim/gpu-sim.cc of DebashisGanguly/gpgpu-sim_UVMSmart): the setting of most published
// UVM policy studies. Its PCIe curve, speed = 2 * 12 / pi * atan(0.07292 * KiB) GiB/s, is
// sampled at powers of two and given in GB/s.
constexpr std::string_view pcie3_1080ti = R"json({
  "name": "pcie3-1080ti",
  "description": "GTX 1080 Ti on PCIe 3.0 x16, as GPGPU-Sim UVMSmart configures it (ISCA 2019, IPDPS 2020)",
  "h2d": {"latency_us": 0, "bandwidth_gbps": [[4096, 2.33], [8192, 4.33], [16384, 7.08], [32768, 9.57],
          [65536, 11.16], [131072, 12.02], [262144, 12.45], [524288, 12.67], [1048576, 12.78], [2097152, 12.83]]},
  "d2h": {"latency_us": 0, "bandwidth_gbps": [[4096, 2.33], [8192, 4.33], [16384, 7.08], [32768, 9.57],
          [65536, 11.16], [131072, 12.02], [262144, 12.45], [524288, 12.67], [1048576, 12.78], [2097152, 12.83]]},
  "d2d": {"latency_us": 0, "bandwidth_gbps": [[4096, 2.33], [8192, 4.33], [16384, 7.08], [32768, 9.57],
          [65536, 11.16], [131072, 12.02], [262144, 12.45], [524288, 12.67], [1048576, 12.78], [2097152, 12.83]]},
  "copy_engines": 2,
  "fault_batch_size": 256,
  "fault_batch_us": 0,
  "fault_us": 45,
  "publish_us": 0,
  "line_bytes": 128,
  "remote_gbps": 0.95,
  "remote_latency_us": 0.135,
  "memory_gbps": 484,
  "launch_us": 150,
  "cpu_fault_us": 45
})json";

// H100 on PCIe 5.0 x16: nvbandwidth's copies, MSched's cost of one fault on a PCIe 5 GPU, HBM2e.
constexpr std::string_view h100_pcie5 = R"json({
  "name": "h100-pcie5",
  "description": "H100 PCIe on PCIe 5.0 x16: nvbandwidth copies, a PCIe 5 GPU's fault cost (MSched 2025), 2 TB/s HBM2e",
  "h2d": {"latency_us": 1.25, "bandwidth_gbps": 35.2},
  "d2h": {"latency_us": 1.25, "bandwidth_gbps": 52.8},
  "d2d": {"latency_us": 1.25, "bandwidth_gbps": 35.2},
  "copy_engines": 2,
  "fault_batch_size": 256,
  "fault_batch_us": 18,
  "fault_us": 10.44,
  "publish_us": 2,
  "line_bytes": 128,
  "remote_gbps": 25,
  "remote_latency_us": 1,
  "memory_gbps": 2000,
  "launch_us": 4,
  "cpu_fault_us": 30.44
})json";

// GH200: NVLink-C2C between Grace and Hopper, measured (Schieffer et al., ICPP 2024), HBM3.
constexpr std::string_view gh200_c2c = R"json({
  "name": "gh200-c2c",
  "description": "GH200 Grace Hopper over NVLink-C2C: measured 375 / 297 GB/s (ICPP 2024), 3.4 TB/s HBM3",
  "h2d": {"latency_us": 1.25, "bandwidth_gbps": 375},
  "d2h": {"latency_us": 1.25, "bandwidth_gbps": 297},
  "d2d": {"latency_us": 1.25, "bandwidth_gbps": 375},
  "copy_engines": 2,
  "fault_batch_size": 256,
  "fault_batch_us": 18,
  "fault_us": 10.44,
  "publish_us": 2,
  "line_bytes": 128,
  "remote_gbps": 297,
  "remote_latency_us": 1,
  "memory_gbps": 3400,
  "launch_us": 4,
  "cpu_fault_us": 30.44
})json";

}  // namespace

std::string_view shipped_profile_json(std::string_view name) noexcept {
  if (name == "pcie3-1080ti") return pcie3_1080ti;
  if (name == "h100-pcie5") return h100_pcie5;
  if (name == "gh200-c2c") return gh200_c2c;
  return {};
}

}  // namespace uvm::detail
