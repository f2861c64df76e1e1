// CPU code and kernels on the emulated device share managed ranges; pages move on demand.
#include "tests/migration/emulated_config.hpp"

#include <uvm/uvm.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <cstdint>
#include <numeric>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace {

using uvm::testing::emulated;

TEST(EndToEnd, CpuWritesKernelUpdatesCpuReadsBack) {
  uvm::manager mgr(emulated());
  constexpr std::size_t n = 1 << 20;  // 4 MiB of int: 64 pages
  auto a = mgr.allocate<std::uint32_t>(n);
  for (std::size_t i = 0; i < n; ++i) a[i] = static_cast<std::uint32_t>(i);
  auto v = a.view();
  mgr.parallel_for(n, [=](std::size_t i) { v.store(i, v.load(i) * 3 + 1); });
  mgr.synchronize();
  EXPECT_EQ(mgr.state_of(a.data()), uvm::page_state::device_exclusive);
  for (std::size_t i = 0; i < n; ++i) ASSERT_EQ(a[i], i * 3 + 1) << i;
  // CPU reads bring the pages back; under userfaultfd as read-only duplicates (the device copy
  // stays valid: no mapping is split for it), under signals as the only copy.
  EXPECT_EQ(mgr.state_of(a.data()), uvm::testing::under_userfaultfd()
                                        ? uvm::page_state::shared
                                        : uvm::page_state::host_exclusive);
  const uvm::stats s = mgr.stats();
  EXPECT_EQ(s.bytes_host_to_device, n * 4);
  EXPECT_EQ(s.bytes_device_to_host, n * 4);
  EXPECT_GT(s.device.count, 0u);
  EXPECT_EQ(s.serviced.count, a.bytes().page_count());
}

TEST(EndToEnd, ReadOnlyKernelLeavesHostCopiesValid) {
  uvm::manager mgr(emulated());
  constexpr std::size_t n = 1 << 18;
  auto a = mgr.allocate<std::uint64_t>(n);
  auto sum = mgr.allocate<std::uint64_t>(1);
  std::iota(a.begin(), a.end(), 0);
  auto av = a.const_view();
  auto sv = sum.view();
  mgr.parallel_for(n, [=](std::size_t i) {
    std::atomic_ref<std::uint64_t>(*sv.span_at(0).data).fetch_add(av.load(i));
  });
  mgr.synchronize();
  mgr.reset_stats();
  std::uint64_t check = 0;
  for (std::size_t i = 0; i < n; ++i) check += a[i];  // faults, but moves nothing back
  EXPECT_EQ(check, n * (n - 1) / 2);
  EXPECT_EQ(mgr.stats().bytes_device_to_host, 0u);
  EXPECT_EQ(sum[0], n * (n - 1) / 2);
  EXPECT_EQ(mgr.stats().bytes_device_to_host, sum.bytes().page_size());
}

TEST(EndToEnd, AKernelThatThrowsIsReportedBySynchronize) {
  uvm::manager mgr(emulated());
  auto a = mgr.allocate<int>(1000);
  auto v = a.view();
  mgr.parallel_for(a.size(), [=](std::size_t i) {
    if (i == 500) throw std::runtime_error("element 500 is cursed");
    v.store(i, 1);
  });
  try {
    mgr.synchronize();
    ADD_FAILURE() << "no error";
  } catch (const uvm::error& e) {
    EXPECT_NE(std::string(e.what()).find("element 500 is cursed"), std::string::npos) << e.what();
  }
  mgr.synchronize();  // reported once
  EXPECT_EQ(a[0], 1);
}

TEST(EndToEnd, FirstTouchOnTheDeviceReadsZeros) {
  uvm::manager mgr(emulated());
  auto a = mgr.allocate<int>(100000);
  auto v = a.view();
  std::atomic<int> nonzero{0};
  mgr.parallel_for(a.size(), [=, &nonzero](std::size_t i) {
    if (v.load(i) != 0) nonzero.fetch_add(1);
    v.store(i, 5);
  });
  mgr.synchronize();
  EXPECT_EQ(nonzero.load(), 0);
  for (int x : a) ASSERT_EQ(x, 5);
}

}  // namespace

namespace {

// Builds each starting state of a page from the public API.
enum class start { unpopulated, host_exclusive, shared, device_exclusive, remote };

struct state_case {
  start from;
  bool kernel_writes;
  bool cpu_writes;
};

class StatePairs : public ::testing::TestWithParam<state_case> {};

TEST_P(StatePairs, DataSurvivesEveryTransition) {
  const state_case c = GetParam();
  // One frame: the second range's page is then remote when a kernel touches it.
  uvm::manager mgr(emulated(64 << 10, 64 << 10));
  constexpr std::size_t n = (64 << 10) / 4;
  auto filler = mgr.allocate<std::uint32_t>(n);
  auto a = mgr.allocate<std::uint32_t>(n);
  auto av = a.view();
  std::uint32_t expect = 0;
  switch (c.from) {
    case start::unpopulated: break;
    case start::host_exclusive:
      for (auto& x : a) x = 7;
      expect = 7;
      break;
    case start::shared:
      a.bytes().advise(uvm::advice::set_read_mostly);
      ASSERT_EQ(a[0], 0u);
      break;
    case start::device_exclusive:
      mgr.parallel_for(n, [=](std::size_t i) { av.store(i, 9); });
      mgr.synchronize();
      expect = 9;
      break;
    case start::remote: {
      auto fv = filler.view();  // takes the only frame
      mgr.parallel_for(1, [=](std::size_t) { fv.store(0, 1); });
      mgr.parallel_for(n, [=](std::size_t i) { av.store(i, 11); });
      mgr.synchronize();
      expect = 11;
      break;
    }
  }
  const uvm::page_state before = mgr.state_of(a.data());
  constexpr uvm::page_state built[] = {uvm::page_state::unpopulated,
                                       uvm::page_state::host_exclusive, uvm::page_state::shared,
                                       uvm::page_state::device_exclusive, uvm::page_state::remote};
  ASSERT_EQ(before, built[static_cast<int>(c.from)]) << to_string(before);
  std::atomic<std::uint32_t> wrong{0};
  if (c.kernel_writes) {
    mgr.parallel_for(n, [=, &wrong](std::size_t i) {
      if (av.load(i) != expect) wrong.fetch_add(1);
      av.store(i, expect + 100);
    });
    expect += 100;
  } else {
    auto cv = a.const_view();
    mgr.parallel_for(n, [=, &wrong](std::size_t i) {
      if (cv.load(i) != expect) wrong.fetch_add(1);
    });
  }
  mgr.synchronize();
  EXPECT_EQ(wrong.load(), 0u) << "kernel saw stale data, starting from " << to_string(before);
  if (c.cpu_writes) {
    for (auto& x : a) x += 1;
    ++expect;
  }
  for (std::size_t i = 0; i < n; ++i) ASSERT_EQ(a[i], expect) << i;
  // And the device sees the CPU's last word.
  wrong = 0;
  auto cv = a.const_view();
  mgr.parallel_for(n, [=, &wrong](std::size_t i) {
    if (cv.load(i) != expect) wrong.fetch_add(1);
  });
  mgr.synchronize();
  EXPECT_EQ(wrong.load(), 0u);
}

std::vector<state_case> all_pairs() {
  std::vector<state_case> v;
  for (start s : {start::unpopulated, start::host_exclusive, start::shared, start::device_exclusive,
                  start::remote}) {
    for (bool kw : {false, true}) {
      for (bool cw : {false, true}) v.push_back({s, kw, cw});
    }
  }
  return v;
}

std::string case_name(const ::testing::TestParamInfo<state_case>& info) {
  constexpr const char* names[] = {"Unpopulated", "HostExclusive", "Shared", "DeviceExclusive",
                                   "Remote"};
  return std::string(names[static_cast<int>(info.param.from)]) +
         (info.param.kernel_writes ? "KernelWrites" : "KernelReads") +
         (info.param.cpu_writes ? "CpuWrites" : "CpuReads");
}

INSTANTIATE_TEST_SUITE_P(EndToEnd, StatePairs, ::testing::ValuesIn(all_pairs()), case_name);

}  // namespace

namespace {

// Strict as a GPU: the kernel's chunks hold every worker while they wait for their pages, so
// serving the faults must need no worker (no kernel of the runtime's own), and the grid, far
// larger than the workers, still completes with every page served.
TEST(EndToEnd, AGridFarLargerThanTheWorkersWhereEveryThreadFaultsCompletes) {
  uvm::manager mgr(uvm::testing::emulated(4 << 10));
  constexpr std::size_t pages = 4096;
  auto a = mgr.allocate<std::uint32_t>(pages * 1024);
  auto v = a.view();
  mgr.parallel_for(pages, [=](std::size_t i) {
    v.store(i * 1024 + i % 1024, 1 + static_cast<std::uint32_t>(i));
  });
  mgr.synchronize();
  for (std::size_t i = 0; i < pages; ++i) {
    ASSERT_EQ(a[i * 1024 + i % 1024], 1 + i) << "page " << i;
  }
  EXPECT_EQ(mgr.stats().device.count, pages);
}

}  // namespace
