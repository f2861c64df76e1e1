// Epochs that the application opens itself: launch scopes with instrumented kernels, and
// launch-residency mode with raw device pointers (run here on the emulated device, whose raw
// pointers are as real as a GPU's: the frames are the device memory the kernel reads).
#include "tests/migration/emulated_config.hpp"

#include <uvm/uvm.hpp>

#include "tests/common/prefetch_now.hpp"

#include <gtest/gtest.h>

#include <cstdint>

namespace {

using uvm::testing::emulated;
constexpr std::size_t page = 64 << 10;

TEST(LaunchScope, InstrumentedKernelInAScope) {
  uvm::manager mgr(emulated(page));
  constexpr std::size_t n = 1 << 16;
  auto a = mgr.allocate<std::uint32_t>(n);
  for (std::size_t i = 0; i < n; ++i) a[i] = static_cast<std::uint32_t>(i);
  auto v = a.view();
  {
    uvm::launch_scope scope = mgr.begin_launch();
    EXPECT_EQ(scope.native_stream(), nullptr) << "the emulated device has no native stream";
    scope.parallel_for(n, [=](std::size_t i) { v.store(i, v.load(i) + 1); });
  }
  mgr.synchronize();
  for (std::size_t i = 0; i < n; ++i) ASSERT_EQ(a[i], i + 1) << i;
}

TEST(LaunchScope, WrittenSpanIsContiguousOnTheDeviceAndComesBack) {
  uvm::manager mgr(emulated(page));
  constexpr std::size_t n = 8 * page / sizeof(std::uint32_t);
  auto a = mgr.allocate<std::uint32_t>(n);
  auto other = mgr.allocate<std::uint32_t>(n);
  for (std::size_t i = 0; i < n; ++i) a[i] = static_cast<std::uint32_t>(i);
  // Scatter a's pages among other's on the device: odd pages of each first, then even ones.
  for (std::size_t p = 1; p < 8; p += 2) {
    uvm::testing::prefetch_now(mgr, a.data() + p * page / 4, page, uvm::location::device());
    uvm::testing::prefetch_now(mgr, other.data() + p * page / 4, page, uvm::location::device());
  }
  const uvm::stats before = mgr.stats();
  {
    uvm::launch_scope scope = mgr.begin_launch({uvm::writes(a)});
    std::uint32_t* d = scope.device_pointer(a.data());
    EXPECT_EQ(scope.device_pointer(a.data() + 5), d + 5);
    scope.parallel_for(n, [d](std::size_t i) { d[i] = d[i] * 2 + 1; });  // a raw kernel
  }
  mgr.synchronize();
  EXPECT_EQ(mgr.state_of(a.data()), uvm::page_state::device_exclusive);
  for (std::size_t i = 0; i < n; ++i) ASSERT_EQ(a[i], i * 2 + 1) << i;
  // Every page came back, though no store was instrumented.
  EXPECT_EQ(mgr.stats().bytes_device_to_host - before.bytes_device_to_host, n * 4);
}

TEST(LaunchScope, ReadSpanStaysReadableOnTheHost) {
  uvm::manager mgr(emulated(page));
  constexpr std::size_t n = 4 * page / sizeof(std::uint32_t);
  auto in = mgr.allocate<std::uint32_t>(n);
  auto out = mgr.allocate<std::uint32_t>(n);
  for (std::size_t i = 0; i < n; ++i) in[i] = static_cast<std::uint32_t>(3 * i);
  {
    uvm::launch_scope scope = mgr.begin_launch({uvm::reads(in), uvm::writes(out)});
    const std::uint32_t* x = scope.device_pointer(static_cast<const std::uint32_t*>(in.data()));
    std::uint32_t* y = scope.device_pointer(out.data());
    scope.parallel_for(n, [x, y](std::size_t i) { y[i] = x[i] + 1; });
  }
  mgr.synchronize();
  mgr.reset_stats();
  std::uint64_t sum = 0;
  for (std::size_t i = 0; i < n; ++i) sum += in[i];
  EXPECT_EQ(sum, 3 * (n * (n - 1) / 2));
  EXPECT_EQ(mgr.stats().cpu_faults(), 0u) << "read duplicates keep the host mapping";
  EXPECT_EQ(mgr.stats().bytes_device_to_host, 0u);
  for (std::size_t i = 0; i < n; ++i) ASSERT_EQ(out[i], 3 * i + 1) << i;
}

TEST(LaunchScope, OverlappingDeclarationsAreOneWritableSpan) {
  uvm::manager mgr(emulated(page));
  constexpr std::size_t n = 4 * page / sizeof(std::uint32_t);
  auto a = mgr.allocate<std::uint32_t>(n);
  for (std::size_t i = 0; i < n; ++i) a[i] = static_cast<std::uint32_t>(i);
  {
    // Pages 1..3 written, 0..1 read after: page 1 must still come back with the kernel's data.
    const uvm::resident_span tail{a.data() + n / 4, 3 * page, true};
    const uvm::resident_span head{a.data(), 2 * page, false};
    uvm::launch_scope scope = mgr.begin_launch({tail, head});
    std::uint32_t* d = scope.device_pointer(a.data());
    EXPECT_EQ(scope.device_pointer(a.data() + n / 4), d + n / 4) << "one contiguous span";
    scope.parallel_for(n - n / 4, [d](std::size_t i) { d[n / 4 + i] += 7; });
  }
  mgr.synchronize();
  for (std::size_t i = 0; i < n; ++i) ASSERT_EQ(a[i], i < n / 4 ? i : i + 7) << i;
}

TEST(LaunchScope, SpanLargerThanTheBudgetIsRefusedAndNothingIsLost) {
  uvm::manager mgr(emulated(page, 4 * page));
  constexpr std::size_t n = 8 * page / sizeof(std::uint32_t);
  auto a = mgr.allocate<std::uint32_t>(n);
  for (std::size_t i = 0; i < n; ++i) a[i] = static_cast<std::uint32_t>(i ^ 0x5a5a);
  EXPECT_THROW((void)mgr.begin_launch({uvm::writes(a)}), uvm::out_of_memory);
  for (std::size_t i = 0; i < n; ++i) ASSERT_EQ(a[i], i ^ 0x5a5a) << i;
  // No epoch was left open: kernels and CPU accesses go on as usual.
  auto v = a.view();
  mgr.parallel_for(page / 4, [=](std::size_t i) { v.store(i, 1); });
  mgr.synchronize();
  EXPECT_EQ(a[0], 1u);
}

TEST(LaunchScope, PointerOutsideTheDeclaredSpansIsAnError) {
  uvm::manager mgr(emulated(page));
  auto a = mgr.allocate<std::uint32_t>(1024);
  auto b = mgr.allocate<std::uint32_t>(1024);
  uvm::launch_scope scope = mgr.begin_launch({uvm::reads(a)});
  EXPECT_THROW((void)scope.device_pointer(b.data()), uvm::invalid_argument);
  scope.end();
  EXPECT_THROW(scope.parallel_for(1, [](std::size_t) {}), uvm::invalid_argument);
}

TEST(LaunchScope, LaunchRunsInstrumentedBodies) {
  uvm::manager mgr(emulated(page));
  constexpr std::size_t n = 1 << 15;
  auto a = mgr.allocate<float>(n);
  auto v = a.view();
  uvm::launch(mgr, n, [=] UVM_HOST_DEVICE(std::size_t i) { v.store(i, 0.5f * i); });
  mgr.synchronize();
  for (std::size_t i = 0; i < n; ++i) ASSERT_EQ(a[i], 0.5f * i) << i;
}

}  // namespace
