#include "host/backend/device_probe.hpp"

#include <uvm/uvm.hpp>

#include <gtest/gtest.h>

namespace uvm::detail {
namespace {

TEST(DeviceProbe, AutomaticPicksEmulatedWithoutADevice) {
  if (probe_cuda_devices().devices > 0) GTEST_SKIP() << "a CUDA device is present";
  EXPECT_EQ(resolve_backend(backend_kind::automatic), backend_kind::emulated);
  EXPECT_EQ(resolve_backend(backend_kind::emulated), backend_kind::emulated);
  EXPECT_FALSE(probe_cuda_devices().reason.empty());
}

TEST(DeviceProbe, AskingForCudaWithoutADeviceIsAClearError) {
  if (probe_cuda_devices().devices > 0) GTEST_SKIP() << "a CUDA device is present";
  uvm::config cfg;
  cfg.backend = backend_kind::cuda;
  try {
    uvm::manager mgr(cfg);
    ADD_FAILURE() << "no error";
  } catch (const uvm::cuda_error& e) {
    EXPECT_NE(std::string(e.what()).find("no CUDA device is usable"), std::string::npos);
  }
}

}  // namespace
}  // namespace uvm::detail
