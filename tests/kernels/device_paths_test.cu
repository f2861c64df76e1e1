// The device paths a first GPU run must show working, through the public API: a full
// uvm::launch grid faulting on every page, remote mapping past the budget, eviction between
// kernels, launch residency with a raw kernel, CPU reads of device-written pages, and device
// errors reported by synchronize. Compiled by nvcc: real CUDA kernels on a GPU (the cuda
// backend), CPU threads on the emulated device elsewhere, with the same checks.
#include "host/coherence/managed_range.hpp"
#include "host/fault/sources/range_registry.hpp"

#include <uvm/uvm.hpp>

#include "tests/common/prefetch_now.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <string>

namespace {

constexpr std::size_t page = 64 << 10;
constexpr std::size_t per_page = page / sizeof(std::uint32_t);

uvm::config cfg(std::size_t budget_pages = 0) {
  uvm::config c = uvm::config::from_env();
  c.page_size = page;
  c.device_budget = budget_pages * page;
  c.fault_timeout = std::chrono::seconds(10);
  return c;
}

// Kernels are free functions: nvcc takes no extended lambda inside a test body.
void write_index(uvm::manager& mgr, uvm::device_view<std::uint32_t> v, std::uint32_t tag) {
  uvm::launch(mgr, v.size(), [=] UVM_HOST_DEVICE(std::size_t i) {
    v.store(i, tag ^ static_cast<std::uint32_t>(i));
  });
}
void add_one(uvm::manager& mgr, uvm::device_view<std::uint32_t> v, std::size_t first,
             std::size_t count) {
  uvm::launch(mgr, count,
              [=] UVM_HOST_DEVICE(std::size_t i) { v.store(first + i, v.load(first + i) + 1); });
}

// One thread per page, adding 1 to its first word (few threads: on the emulated device each
// thread's wait for an unservable page is its own).
void add_one_per_page(uvm::manager& mgr, uvm::device_view<std::uint32_t> v, std::size_t pages) {
  uvm::launch(mgr, pages, [=] UVM_HOST_DEVICE(std::size_t p) {
    v.store(p * per_page, v.load(p * per_page) + 1);
  });
}

#if defined(__CUDACC__)
__global__ void raw_saxpy(const float* x, float* y, std::size_t n) {
  const std::size_t i = blockIdx.x * static_cast<std::size_t>(blockDim.x) + threadIdx.x;
  if (i < n) y[i] = 2.0f * x[i] + y[i];
}
#endif

void saxpy_resident(uvm::manager& mgr, uvm::typed_range<float>& x, uvm::typed_range<float>& y) {
  uvm::launch_scope scope = mgr.begin_launch({uvm::reads(x), uvm::writes(y)});
  const float* dx = scope.device_pointer(x.data());
  float* dy = scope.device_pointer(y.data());
  const std::size_t n = x.size();
  if (mgr.backend() == uvm::backend_kind::cuda) {
#if defined(__CUDACC__)
    raw_saxpy<<<static_cast<unsigned>((n + 255) / 256), 256, 0,
                static_cast<cudaStream_t>(scope.native_stream())>>>(dx, dy, n);
#endif
  } else {
    scope.parallel_for(n, [=](std::size_t i) { dy[i] = 2.0f * dx[i] + dy[i]; });
  }
}

TEST(DevicePaths, AFullGridFaultsOnEveryPageAndTheCpuReadsItBack) {
  uvm::manager mgr(cfg());
  constexpr std::size_t pages = 256;  // 16 MiB, never touched before the kernel
  auto a = mgr.allocate<std::uint32_t>(pages * per_page);
  write_index(mgr, a.view(), 0xabc00000u);
  mgr.synchronize();
  const uvm::stats s = mgr.stats();
  EXPECT_GE(s.device.count, pages) << "every page was a device fault";
  for (std::size_t i = 0; i < a.size(); ++i) ASSERT_EQ(a[i], 0xabc00000u ^ i) << i;
  EXPECT_EQ(mgr.stats().bytes_device_to_host, pages * page) << "every page came back, once";
}

TEST(DevicePaths, PagesPastTheBudgetRunRemoteAndStayCorrect) {
  uvm::manager mgr(cfg(8));
  constexpr std::size_t pages = 32;
  auto a = mgr.allocate<std::uint32_t>(pages * per_page);
  for (std::size_t i = 0; i < a.size(); ++i) a[i] = static_cast<std::uint32_t>(i);
  add_one(mgr, a.view(), 0, a.size());
  mgr.synchronize();
  EXPECT_GE(mgr.stats().remote_mappings, pages - 8);
  for (std::size_t i = 0; i < a.size(); ++i) ASSERT_EQ(a[i], i + 1) << i;
}

TEST(DevicePaths, PrefetchBetweenKernelsEvictsAndKeepsEveryWrite) {
  uvm::manager mgr(cfg(8));
  constexpr std::size_t pages = 16;
  auto a = mgr.allocate<std::uint32_t>(pages * per_page);
  for (std::size_t i = 0; i < a.size(); ++i) a[i] = 0;
  add_one(mgr, a.view(), 0, 8 * per_page);  // pages 0-7 fill the frames, dirty
  mgr.synchronize();
  EXPECT_EQ(
      uvm::testing::prefetch_now(mgr, a.data() + 8 * per_page, 8 * page, uvm::location::device()),
      8u);
  EXPECT_GE(mgr.stats().evictions, 8u) << "the first kernel's pages made room";
  add_one(mgr, a.view(), 0, a.size());
  mgr.synchronize();
  for (std::size_t i = 0; i < a.size(); ++i) ASSERT_EQ(a[i], i < 8 * per_page ? 2u : 1u) << i;
}

TEST(DevicePaths, LaunchResidencyRunsARawKernel) {
  uvm::manager mgr(cfg());
  constexpr std::size_t n = 8 * per_page;
  auto x = mgr.allocate<float>(n);
  auto y = mgr.allocate<float>(n);
  for (std::size_t i = 0; i < n; ++i) x[i] = static_cast<float>(i), y[i] = 1.0f;
  saxpy_resident(mgr, x, y);
  mgr.synchronize();
  for (std::size_t i = 0; i < n; ++i) ASSERT_EQ(y[i], 2.0f * static_cast<float>(i) + 1.0f) << i;
  EXPECT_EQ(x[5], 5.0f) << "read-only span: still readable on the host";
}

TEST(DevicePaths, AnUnservableAccessIsADeviceErrorAtSynchronize) {
  uvm::config c = cfg();
  c.fault_timeout = std::chrono::milliseconds(300);
  uvm::manager mgr(c);
  auto a = mgr.allocate<std::uint32_t>(2 * per_page);
  // Hold page 1 in a transition that never ends, as a stuck migration would.
  auto pin = uvm::detail::range_registry::process().find(a.data());
  ASSERT_TRUE(pin);
  uvm::detail::page_word w = pin->pages().load(1);
  ASSERT_TRUE(pin->pages().try_claim(1, w));
  add_one_per_page(mgr, a.view(), 2);
  try {
    mgr.synchronize();
    ADD_FAILURE() << "no device error";
  } catch (const uvm::device_fault& e) {
    EXPECT_NE(std::string(e.what()).find("page 1"), std::string::npos) << e.what();
  }
  pin->pages().publish(1, uvm::page_state::unpopulated);
  mgr.synchronize();  // reported once
  EXPECT_EQ(a[0], 1u) << "pages that could be served were";
}

}  // namespace
