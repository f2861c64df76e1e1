#include "host/backend/device_probe.hpp"

#include <uvm/uvm.hpp>

#include <gtest/gtest.h>

#include <cstdlib>
#include <string>
#include <vector>

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

TEST(DeviceCapabilities, SeveralGpusTakeAPathOnlyWhereEveryOneHasItsCapability) {
  device_capabilities all;
  all.host_register_read_only = 1;
  all.host_pointer_for_registered_mem = 1;
  all.stream_wait_value = 1;
  device_capabilities no_gates = all;
  no_gates.stream_wait_value = 0;
  const std::vector<device_capabilities> both{all, all};
  EXPECT_TRUE(choose_paths(both).gates_wait_value);
  EXPECT_TRUE(choose_paths(both).host_pointer_on_device);
  const std::vector<device_capabilities> mixed{all, no_gates};
  const backend_paths p = choose_paths(mixed);
  EXPECT_FALSE(p.gates_wait_value) << "one GPU without stream memory waits: no gates";
  EXPECT_TRUE(p.zero_source_read_only);
  EXPECT_TRUE(p.host_pointer_on_device);
}

TEST(DeviceCapabilities, TheGpusAreTheListedOnesOrTheFirstEightVisible) {
  std::string wrong;
  EXPECT_EQ(select_gpus({}, 3, &wrong), (std::vector<int>{0, 1, 2}));
  EXPECT_EQ(select_gpus({}, 12, &wrong).size(), max_devices);
  const std::vector<int> listed{2, 0};
  EXPECT_EQ(select_gpus(listed, 3, &wrong), listed) << "in the listed order";
  EXPECT_TRUE(wrong.empty());
  const std::vector<int> missing{0, 3};
  EXPECT_TRUE(select_gpus(missing, 3, &wrong).empty());
  EXPECT_NE(wrong.find("CUDA device 3 is not there: 3 visible"), std::string::npos) << wrong;
}

TEST(DeviceCapabilities, EveryMissingOrUnknownCapabilityTakesItsFallback) {
  device_capabilities all;
  all.device = 0;
  all.host_register_read_only = 1;
  all.host_pointer_for_registered_mem = 1;
  all.stream_wait_value = 1;
  const backend_paths fast = choose_paths(all);
  EXPECT_TRUE(fast.zero_source_read_only);
  EXPECT_TRUE(fast.host_pointer_on_device);
  EXPECT_TRUE(fast.gates_wait_value);
  for (const int missing : {0, -1}) {  // absent, and a query that failed
    device_capabilities c = all;
    c.host_register_read_only = missing;
    EXPECT_FALSE(choose_paths(c).zero_source_read_only);
    EXPECT_TRUE(choose_paths(c).gates_wait_value);
    c = all;
    c.host_pointer_for_registered_mem = missing;
    EXPECT_FALSE(choose_paths(c).host_pointer_on_device);
    c = all;
    c.stream_wait_value = missing;
    EXPECT_FALSE(choose_paths(c).gates_wait_value);
    EXPECT_TRUE(choose_paths(c).zero_source_read_only);
  }
  const std::string line = describe(device_capabilities{}, backend_paths{});
  EXPECT_NE(line.find("read-write (fallback)"), std::string::npos) << line;
  EXPECT_NE(line.find("cudaHostGetDevicePointer (fallback)"), std::string::npos) << line;
  EXPECT_NE(line.find("gates none: queued moves run in their call (fallback)"), std::string::npos)
      << line;
  device_capabilities named;
  named.name = "a \"quoted\" device";
  const std::string json = to_json(named, fast);
  EXPECT_NE(json.find(R"("name": "a \"quoted\" device")"), std::string::npos) << json;
  EXPECT_NE(json.find(R"("zero_source": "read_only")"), std::string::npos) << json;
}

TEST(DeviceCapabilities, WithoutADeviceTheProbeSaysWhy) {
  if (probe_cuda_devices().devices > 0) GTEST_SKIP() << "a CUDA device is present";
  const device_capabilities c = probe_cuda_capabilities(0);
  EXPECT_EQ(c.device, -1);
  EXPECT_FALSE(c.name.empty());
}

}  // namespace
TEST(DeviceProbe, TheBackendAsksForMoreHardwareQueuesUnlessTheEnvironmentChose) {
  if (probe_cuda_devices().reason.find("no CUDA support") != std::string::npos) {
    GTEST_SKIP() << "a build without CUDA sets no CUDA variable";
  }
  // probe_cuda_devices ran above: the variable is set (the test's environment leaves it unset)
  // or kept as the environment chose.
  const char* v = std::getenv("CUDA_DEVICE_MAX_CONNECTIONS");
  ASSERT_NE(v, nullptr);
  setenv("CUDA_DEVICE_MAX_CONNECTIONS", "4", 1);
  raise_device_connections();
  EXPECT_STREQ(std::getenv("CUDA_DEVICE_MAX_CONNECTIONS"), "4") << "the application's choice";
  unsetenv("CUDA_DEVICE_MAX_CONNECTIONS");
  raise_device_connections();
  EXPECT_STREQ(std::getenv("CUDA_DEVICE_MAX_CONNECTIONS"), "32");
}

}  // namespace uvm::detail
