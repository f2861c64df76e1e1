#include "host/backend/native_device_writers.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <string>

namespace uvm::detail {
namespace {

// Bit o: the writer was called for ordinal o.
std::atomic<std::uint32_t> early_calls{0};
std::atomic<std::uint32_t> late_calls{0};
int early(int ordinal) noexcept {
  early_calls.fetch_or(1u << ordinal);
  return 0;
}
int late(int ordinal) noexcept {
  late_calls.fetch_or(1u << ordinal);
  return ordinal == 5 ? 98 /* cudaErrorInvalidDeviceFunction */ : 0;
}

// A module registered before a backend announces its GPUs is written when they are announced;
// one registered after (a library loaded later) is written at once for those announced before.
TEST(NativeDeviceWriters, EveryModuleLearnsEveryAnnouncedGpuWhicheverComesFirst) {
  native_device_writers registry;
  registry.add(&early);
  EXPECT_EQ(early_calls.load(), 0u) << "nothing announced yet";
  EXPECT_EQ(registry.announce(3), "");
  EXPECT_EQ(early_calls.load(), 1u << 3);
  registry.add(&late);
  EXPECT_EQ(late_calls.load(), 1u << 3);
  const std::string failed = registry.announce(5);
  EXPECT_EQ(early_calls.load(), (1u << 3) | (1u << 5));
  EXPECT_EQ(late_calls.load(), (1u << 3) | (1u << 5));
  EXPECT_NE(failed.find("device 5"), std::string::npos) << failed;
  EXPECT_NE(failed.find("98"), std::string::npos) << failed;
  EXPECT_NE(registry.announce(static_cast<int>(max_native_devices)), "")
      << "an ordinal device code cannot tell apart";
  EXPECT_EQ(registry.size(), 2u);
}

// The process's registry is what the public header's registration reaches.
TEST(NativeDeviceWriters, ThePublicRegistrationAddsToTheProcessRegistry) {
  const std::size_t before = native_device_writers::process().size();
  register_native_device_writer(nullptr);  // ignored
  EXPECT_EQ(native_device_writers::process().size(), before);
  register_native_device_writer([](int) noexcept { return 0; });
  EXPECT_EQ(native_device_writers::process().size(), before + 1);
}

}  // namespace
}  // namespace uvm::detail
