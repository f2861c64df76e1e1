// A run with UVM_TRACE set records what the replayer needs: ranges, CPU and device accesses that
// faulted, and kernel epochs, in order.
#include "host/telemetry/trace_format.hpp"
#include "tests/migration/emulated_config.hpp"

#include <uvm/uvm.hpp>

#include <gtest/gtest.h>

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
  EXPECT_EQ(h.version, 1u);
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
