// Needs a CUDA device (ctest label `gpu`); skips with the reason on machines without one.
#include "host/backend/device_probe.hpp"

#include <uvm/uvm.hpp>

#include <gtest/gtest.h>

namespace uvm::detail {
namespace {

TEST(DeviceProbeGpu, AutomaticPicksCudaWhenADeviceIsUsable) {
  const device_probe p = probe_cuda_devices();
  if (p.devices == 0) GTEST_SKIP() << "no usable CUDA device: " << p.reason;
  EXPECT_EQ(resolve_backend(backend_kind::automatic), backend_kind::cuda);
  uvm::manager mgr;
  EXPECT_EQ(mgr.backend(), backend_kind::cuda);
}

}  // namespace
}  // namespace uvm::detail
