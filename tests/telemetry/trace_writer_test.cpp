// A run with UVM_TRACE set records what the replayer needs: ranges, CPU and device accesses that
// faulted, and kernel epochs, in order.
#include "host/telemetry/trace_format.hpp"
#include "tests/migration/emulated_config.hpp"

#include <uvm/uvm.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include <unistd.h>

namespace uvm::detail {
namespace {

std::vector<trace_record> read_trace(const std::string& path, trace_header& h) {
  std::ifstream in(path, std::ios::binary);
  in.read(reinterpret_cast<char*>(&h), sizeof h);
  std::vector<trace_record> records;
  trace_record r{};
  while (in.read(reinterpret_cast<char*>(&r), sizeof r)) records.push_back(r);
  return records;
}

TEST(TraceWriter, RecordsRangesFaultsAndEpochsInOrder) {
  const std::string path = ::testing::TempDir() + "uvm-trace-" + std::to_string(getpid());
  constexpr std::size_t page = 64 << 10;
  {
    uvm::config cfg = uvm::testing::emulated(page);
    cfg.trace_path = path;
    uvm::manager mgr(cfg);
    auto a = mgr.allocate<std::uint32_t>(8 * page / 4);
    for (std::size_t p : {0u, 1u, 2u}) a[p * (page / 4)] = 1;  // three CPU first touches (writes)
    auto v = a.view();
    mgr.parallel_for(1, [=](std::size_t) {
      (void)v.load(5 * (page / 4));  // device read of page 5
      v.store(6 * (page / 4), 2);    // device write of page 6
    });
    mgr.synchronize();
    EXPECT_EQ(a[0], 1u);  // no fault: still on the host
  }
  trace_header h{};
  const std::vector<trace_record> t = read_trace(path, h);
  std::remove(path.c_str());
  EXPECT_EQ(std::memcmp(h.magic, trace_magic, sizeof h.magic), 0);
  EXPECT_EQ(h.version, trace_version);
  EXPECT_EQ(h.page_size, page);
  ASSERT_EQ(t.size(), 7u);
  EXPECT_EQ(t[0].kind, trace_kind::range);
  EXPECT_EQ(t[0].value, 8u);
  for (std::uint32_t i = 0; i < 3; ++i) {
    EXPECT_EQ(t[1 + i].kind, trace_kind::cpu_access);
    EXPECT_EQ(t[1 + i].page, i);
    EXPECT_EQ(t[1 + i].access, 1u);
    EXPECT_EQ(t[1 + i].range_id, t[0].range_id);
  }
  EXPECT_EQ(t[4].kind, trace_kind::epoch);
  EXPECT_EQ(t[4].value, 1u);
  EXPECT_EQ(t[5].kind, trace_kind::device_access);
  EXPECT_EQ(t[5].page, 5u);
  EXPECT_EQ(t[5].access, 0u);
  EXPECT_EQ(t[6].kind, trace_kind::device_access);
  EXPECT_EQ(t[6].page, 6u);
  EXPECT_EQ(t[6].access, 1u);
}

TEST(TraceWriter, KernelsOnResidentPagesAreRecordedEpochByEpoch) {
  // Pages prefetched to the device never fault, but the kernels used them: the trace records
  // the pages each kernel touched (from the accessed bits, in its own epoch), so a run with
  // everything resident gives the program's accesses whatever the policy.
  const std::string path = ::testing::TempDir() + "uvm-trace-resident-" + std::to_string(getpid());
  constexpr std::size_t page = 4096, pages = 16;
  {
    uvm::config cfg = uvm::testing::emulated(page);
    cfg.trace_path = path;
    uvm::manager mgr(cfg);
    auto a = mgr.allocate<std::uint32_t>(pages * page / 4);
    mgr.prefetch(a.bytes(), uvm::location::device());
    mgr.synchronize();
    auto v = a.view();
    // Kernel 1 reads pages 0-7; kernel 2 writes pages 4 and 12. Launched back to back.
    mgr.parallel_for(8, [=](std::size_t p) { (void)v.load(p * (page / 4)); });
    mgr.parallel_for(2, [=](std::size_t i) { v.store((i == 0 ? 4 : 12) * (page / 4), 7); });
    mgr.synchronize();
    EXPECT_EQ(mgr.stats().device.count, 0u) << "the pages were to be resident";
  }
  trace_header h{};
  const std::vector<trace_record> t = read_trace(path, h);
  std::remove(path.c_str());
  std::vector<std::vector<std::pair<std::uint32_t, std::uint8_t>>> epochs;
  for (const trace_record& r : t) {
    if (r.kind == trace_kind::epoch) epochs.emplace_back();
    if (r.kind == trace_kind::device_access) {
      ASSERT_FALSE(epochs.empty()) << "a device access before any epoch";
      epochs.back().emplace_back(r.page, r.access);
    }
  }
  ASSERT_EQ(epochs.size(), 2u);
  std::vector<std::pair<std::uint32_t, std::uint8_t>> first, second{{4, 1}, {12, 1}};
  for (std::uint32_t p = 0; p < 8; ++p) first.emplace_back(p, 0);
  EXPECT_EQ(epochs[0], first);
  EXPECT_EQ(epochs[1], second);
}

// With several devices each device access and each epoch names its device, so uvm-replay
// replays the run on as many devices.
TEST(TraceWriter, EachKernelsAccessesAndEpochNameItsDevice) {
  const std::string path = ::testing::TempDir() + "uvm-trace-devices-" + std::to_string(getpid());
  constexpr std::size_t page = 4096;
  {
    uvm::config cfg = uvm::testing::emulated(page);
    cfg.trace_path = path;
    cfg.emulated_devices = 3;
    uvm::manager mgr(cfg);
    auto a = mgr.allocate<std::uint32_t>(3 * page / 4);
    auto v = a.view();
    for (int d = 2; d >= 0; --d) {  // device d writes page d, on its own stream, one at a time
      const uvm::stream s = mgr.create_stream("d", d);
      mgr.parallel_for(
          1, [=](std::size_t) { v.store(static_cast<std::size_t>(d) * (page / 4), 1); }, s);
      mgr.synchronize(s);
    }
    mgr.synchronize();
  }
  trace_header h{};
  const std::vector<trace_record> t = read_trace(path, h);
  std::remove(path.c_str());
  std::vector<std::uint16_t> epochs;
  std::vector<std::pair<std::uint32_t, std::uint16_t>> writes;  // page, device
  for (const trace_record& r : t) {
    if (r.kind == trace_kind::epoch) epochs.push_back(r.device);
    if (r.kind == trace_kind::device_access) writes.emplace_back(r.page, r.device);
  }
  EXPECT_EQ(epochs, (std::vector<std::uint16_t>{2, 1, 0}));
  std::sort(writes.begin(), writes.end());
  EXPECT_EQ(writes, (std::vector<std::pair<std::uint32_t, std::uint16_t>>{{0, 0}, {1, 1}, {2, 2}}));
}

TEST(TraceWriter, AnUnwritablePathIsAClearError) {
  uvm::config cfg = uvm::testing::emulated();
  cfg.trace_path = "/nonexistent-dir/trace.bin";
  try {
    uvm::manager mgr(cfg);
    ADD_FAILURE() << "no error";
  } catch (const uvm::system_error& e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent-dir/trace.bin"), std::string::npos);
  }
}

}  // namespace
}  // namespace uvm::detail
