// The workloads of kernels/workloads/ on the emulated device: each gives the CPU reference's
// result with everything resident, with half its footprint on the device, and split across two
// devices, and a broken result fails its check (a fast wrong answer is caught).
#include "kernels/workloads/workloads.hpp"
#include "tests/migration/emulated_config.hpp"

#include <uvm/uvm.hpp>

#include <gtest/gtest.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <string>

#include <unistd.h>

namespace {

using uvm::testing::emulated;
using namespace uvm::workloads;

constexpr std::size_t page = 4096;

class Workload : public ::testing::TestWithParam<std::string_view> {};

std::size_t footprint_of(std::string_view name) {
  uvm::manager mgr(emulated(page));
  auto w = make_workload(name, {});
  w->setup(mgr);
  return footprint(*w);
}

TEST_P(Workload, MatchesTheCpuWithEverythingResident) {
  uvm::manager mgr(emulated(page, 2 * footprint_of(GetParam())));
  auto w = make_workload(GetParam(), {});
  w->setup(mgr);
  const uvm::stream s = mgr.create_stream("workload");
  for (const uvm::range* r : w->ranges()) mgr.prefetch(*r, uvm::location::device(), s);
  mgr.synchronize(s);
  mgr.reset_stats();
  w->run(mgr, s);
  EXPECT_EQ(w->check(), "");
  EXPECT_EQ(mgr.stats().evictions, 0u);
}

TEST_P(Workload, MatchesTheCpuWithHalfItsFootprintOnTheDevice) {
  const std::size_t bytes = footprint_of(GetParam());
  uvm::manager mgr(emulated(page, bytes / 2 / page * page));
  auto w = make_workload(GetParam(), {});
  w->setup(mgr);
  const uvm::stream s = mgr.create_stream("workload");
  w->run(mgr, s);
  EXPECT_EQ(w->check(), "");
  const uvm::stats st = mgr.stats();
  EXPECT_GT(st.device.count, 0u) << "the workload never faulted: it ran nowhere near the device";
  EXPECT_GT(st.remote_mappings + st.evictions, 0u) << "the footprint fit after all";
}

// Split in bands across two devices (each kernel's indices halved, one half per device), with
// half the footprint on each: the same result, and both devices did their share.
TEST_P(Workload, MatchesTheCpuSplitAcrossTwoDevices) {
  uvm::config cfg = emulated(page, footprint_of(GetParam()) / 2 / page * page);
  cfg.emulated_devices = 2;
  uvm::manager mgr(cfg);
  auto w = make_workload(GetParam(), {});
  w->setup(mgr);
  const uvm::stream on[2] = {mgr.create_stream("band-0", 0), mgr.create_stream("band-1", 1)};
  w->run_on(mgr, on);
  EXPECT_EQ(w->check(), "");
  const uvm::stats st = mgr.stats();
  ASSERT_EQ(st.devices.size(), 2u);
  for (int d = 0; d < 2; ++d) {
    EXPECT_GT(st.devices[static_cast<std::size_t>(d)].faults, 0u) << "device " << d << " idle";
  }
}

TEST_P(Workload, ABrokenResultFailsTheCheck) {
  uvm::manager mgr(emulated(page));
  auto w = make_workload(GetParam(), {});
  w->setup(mgr);
  w->run(mgr, {});
  ASSERT_EQ(w->check(), "");
  const uvm::range& out = w->result();
  // The top byte of a 4-byte element in the middle: a float's exponent, an integer's high bits.
  out.data()[(out.size() / 2 & ~std::size_t{7}) + 3] ^= std::byte{0x40};
  EXPECT_NE(w->check(), "");
}

TEST(Workloads, TheSameSeedGivesTheSameInputsAndAnotherSeedOthers) {
  uvm::manager mgr(emulated(page));
  auto a = make_workload("bfs", {1, 7});
  auto b = make_workload("bfs", {1, 7});
  auto c = make_workload("bfs", {1, 8});
  a->setup(mgr);
  b->setup(mgr);
  c->setup(mgr);
  const uvm::range& ra = *a->ranges()[1];  // the edges
  const uvm::range& rb = *b->ranges()[1];
  const uvm::range& rc = *c->ranges()[1];
  ASSERT_EQ(ra.size(), rb.size());
  EXPECT_EQ(std::memcmp(ra.data(), rb.data(), ra.size()), 0);
  EXPECT_TRUE(ra.size() != rc.size() || std::memcmp(ra.data(), rc.data(), ra.size()) != 0);
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

TEST(Workloads, TheSameRunRecordsTheSameTrace) {
  // Faults of parallel lanes arrive in any order; the trace must not depend on it (uvm-replay
  // figures are reproduced from a seed). Jacobi and SpMV fault from many lanes at once.
  for (const std::string_view name : {"jacobi", "spmv"}) {
    std::string traces[2];
    for (std::string& t : traces) {
      const std::string path =
          ::testing::TempDir() + "uvm-workload-trace-" + std::to_string(getpid());
      {
        uvm::config cfg = emulated(page);
        cfg.trace_path = path;
        uvm::manager mgr(cfg);
        auto w = make_workload(name, {});
        w->setup(mgr);
        w->run(mgr, {});
        ASSERT_EQ(w->check(), "");
      }
      t = read_file(path);
      std::remove(path.c_str());
    }
    EXPECT_GT(traces[0].size(), 24u * 100) << name;
    EXPECT_TRUE(traces[0] == traces[1]) << name << ": two runs recorded different traces";
  }
}

TEST(Workloads, EveryNameMakesAWorkloadOfThatName) {
  for (const std::string_view n : workload_names) {
    auto w = make_workload(n, {});
    ASSERT_NE(w, nullptr) << n;
    EXPECT_EQ(w->name(), n);
  }
  EXPECT_EQ(make_workload("nbody", {}), nullptr);
}

INSTANTIATE_TEST_SUITE_P(All, Workload, ::testing::ValuesIn(workload_names), [](const auto& info) {
  std::string n(info.param);
  for (char& ch : n) ch = ch == '-' ? '_' : ch;
  return n;
});

}  // namespace
