// The device model in a manager (config::device_model): what a run's kernels, faults, moves and
// CPU faults are charged, that work on different streams overlaps, and that the same program
// gives the same modelled time whatever the machine's timing.

#include "tests/common/fault_mechanism.hpp"

#include <uvm/device_model.hpp>
#include <uvm/uvm.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <string>

#include <unistd.h>

namespace {

constexpr std::size_t page_bytes = std::size_t{64} << 10;
constexpr std::size_t words = page_bytes / sizeof(std::uint64_t);

// Round numbers, so that each term is easy to check by hand.
const char* const profile_json = R"json({
  "name": "round", "description": "round numbers for tests",
  "h2d": {"latency_us": 2, "bandwidth_gbps": 10},
  "d2h": {"latency_us": 1, "bandwidth_gbps": 20},
  "d2d": {"latency_us": 1, "bandwidth_gbps": 40},
  "copy_engines": 2, "fault_batch_size": 4, "fault_batch_us": 20, "fault_us": 3,
  "publish_us": 1, "line_bytes": 128, "remote_gbps": 16, "remote_latency_us": 0.5,
  "memory_gbps": 1000, "launch_us": 5, "cpu_fault_us": 7
})json";

std::string profile_path() {
  static const std::string path = [] {
    // One file per process: ctest runs this binary's tests as processes at once.
    std::string p =
        testing::TempDir() + "uvm_device_model_test." + std::to_string(getpid()) + ".json";
    std::ofstream(p) << profile_json;
    return p;
  }();
  return path;
}

const uvm::device_profile& profile() {
  static const uvm::device_profile p = uvm::device_profile::parse(profile_json);
  return p;
}

uvm::config modelled(unsigned workers = 0) {
  uvm::config c = uvm::testing::test_config();
  c.backend = uvm::backend_kind::emulated;
  c.page_size = page_bytes;
  c.device_budget = 64 * page_bytes;
  c.device_model = profile_path();
  c.emulated_workers = workers;
  return c;
}

std::uint64_t ns(std::chrono::nanoseconds d) {
  return static_cast<std::uint64_t>(d.count());
}

// Writes every page on the CPU (first touch: host-resident, nothing modelled).
void fill(uvm::typed_range<std::uint64_t>& v) {
  for (std::size_t i = 0; i < v.size(); i += words) v.data()[i] = i;
}

// One kernel that reads the first word of every page of `v` on `s`.
void read_pages(uvm::manager& m, const uvm::typed_range<std::uint64_t>& v,
                const uvm::stream& s = {}) {
  const auto view = v.const_view();
  std::atomic<std::uint64_t>* sink = new std::atomic<std::uint64_t>(0);
  m.parallel_for(
      v.size() / words, [=](std::size_t p) { sink->fetch_add(view.load(p * words)); }, s);
  m.synchronize(s);
  delete sink;
}

TEST(DeviceModel, WithoutAModelNothingIsModelled) {
  uvm::config c = modelled();
  c.device_model.clear();
  uvm::manager m{c};
  auto v = m.allocate<std::uint64_t>(4 * words);
  fill(v);
  read_pages(m, v);
  const uvm::stats s = m.stats();
  EXPECT_TRUE(s.modelled.empty());
}

TEST(DeviceModel, AnUnknownProfileIsAnInvalidArgument) {
  uvm::config c = modelled();
  c.device_model = "no-such-gpu";
  EXPECT_THROW(uvm::manager{c}, uvm::invalid_argument);
  c.device_model = "h100-pcie5,,gh200-c2c";
  EXPECT_THROW(uvm::manager{c}, uvm::invalid_argument);
}

TEST(DeviceModel, EachProfileOfAListGetsAnAccountOfItsOwn) {
  uvm::config c = modelled();
  c.device_model = profile_path() + ",h100-pcie5,pcie3-1080ti";
  uvm::manager m{c};
  auto v = m.allocate<std::uint64_t>(8 * words);
  fill(v);
  read_pages(m, v);
  const uvm::stats s = m.stats();
  ASSERT_EQ(s.modelled.size(), 3u);
  EXPECT_EQ(s.modelled[0].profile, "round");
  EXPECT_EQ(s.modelled[1].profile, "h100-pcie5");
  EXPECT_EQ(s.modelled[2].profile, "pcie3-1080ti");
  // The same events: the same faults; the old link and its 45 us faults take longest.
  for (const uvm::modelled_time& t : s.modelled) EXPECT_EQ(t.device_faults, 8u);
  EXPECT_GT(s.modelled[2].total, s.modelled[1].total);
  const uvm::device_profile old = uvm::device_profile::shipped("pcie3-1080ti");
  EXPECT_EQ(ns(s.modelled[2].fault_service), 8 * 45'000u);
  EXPECT_EQ(ns(s.modelled[2].fault_copies), old.h2d.copy_ns(8 * page_bytes));

  c.device_model = "all";
  uvm::manager every{c};
  ASSERT_EQ(every.stats().modelled.size(), uvm::device_profile::shipped_profiles().size());
  for (std::size_t i = 0; i < uvm::device_profile::shipped_profiles().size(); ++i) {
    EXPECT_EQ(every.stats().modelled[i].profile, uvm::device_profile::shipped_profiles()[i]);
  }
}

TEST(DeviceModel, AKernelIsChargedItsLaunchItsFaultBatchesAndTheirCopies) {
  uvm::manager m{modelled()};
  auto v = m.allocate<std::uint64_t>(8 * words);
  fill(v);
  m.reset_stats();
  read_pages(m, v);
  const uvm::stats s = m.stats();
  const uvm::modelled_time& t = s.modelled.at(0);
  EXPECT_EQ(t.profile, "round");
  EXPECT_EQ(t.kernels, 1u);
  EXPECT_EQ(t.device_faults, 8u);
  EXPECT_EQ(t.fault_batches, 2u) << "8 faults in batches of 4";
  EXPECT_EQ(ns(t.launch), 5'000u);
  EXPECT_EQ(ns(t.fault_service), 2 * (20'000u + 1'000u) + 8 * 3'000u);
  // 8 neighbouring pages in one 2 MiB block: one copy.
  EXPECT_EQ(ns(t.fault_copies), profile().h2d.copy_ns(8 * page_bytes));
  EXPECT_EQ(ns(t.compute), 0u) << "8 loads of 8 bytes at 1000 GB/s round to 0 ns";
  EXPECT_EQ(ns(t.total), ns(t.launch) + ns(t.fault_service) + ns(t.fault_copies))
      << "one kernel on one stream, and the host waited for it";
  EXPECT_EQ(t.per_kernel.count(), 1u);
  EXPECT_EQ(t.per_kernel.total_ns, ns(t.total));

  // Again: resident now, so only the launch.
  m.reset_stats();
  read_pages(m, v);
  EXPECT_EQ(ns(m.stats().modelled.at(0).total), 5'000u);
  EXPECT_EQ(m.stats().modelled.at(0).device_faults, 0u);
}

TEST(DeviceModel, AKernelsAccessesAreChargedAtMemoryBandwidth) {
  uvm::manager m{modelled()};
  auto v = m.allocate<std::uint64_t>(4 * words);
  fill(v);
  m.prefetch(v.data(), v.size() * sizeof(std::uint64_t), uvm::location::device());
  m.synchronize();
  m.reset_stats();
  const auto view = v.view();
  m.parallel_for(v.size(), [=](std::size_t i) { view.store(i, view.load(i) + 1); });
  m.synchronize();
  // Every word loaded and stored once: 2 * 256 KiB at 1000 GB/s.
  const std::uint64_t bytes = 2 * 4 * page_bytes;
  EXPECT_EQ(ns(m.stats().modelled.at(0).compute), (bytes + 500) / 1000);
  EXPECT_EQ(ns(m.stats().modelled.at(0).total), 5'000u + (bytes + 500) / 1000);
}

TEST(DeviceModel, APrefetchOnOneStreamOverlapsAKernelOnAnother) {
  uvm::manager m{modelled()};
  auto a = m.allocate<std::uint64_t>(16 * words);
  auto b = m.allocate<std::uint64_t>(2 * words);
  fill(a);
  fill(b);
  m.prefetch(b.data(), b.size() * sizeof(std::uint64_t), uvm::location::device());
  m.synchronize();
  m.reset_stats();
  const uvm::stream copies = m.create_stream("copies");
  const uvm::stream compute = m.create_stream("compute");
  m.prefetch(a.data(), a.size() * sizeof(std::uint64_t), uvm::location::device(), copies);
  const auto view = b.view();
  m.parallel_for(
      b.size(), [=](std::size_t i) { view.store(i, view.load(i) * 3); }, compute);
  m.synchronize();
  const uvm::modelled_time t = m.stats().modelled.at(0);
  const std::uint64_t copy = profile().h2d.copy_ns(16 * page_bytes) + 1'000;  // and publication
  const std::uint64_t kernel = 5'000 + (2 * 2 * page_bytes + 500) / 1000;
  EXPECT_EQ(ns(t.stream_copies), copy);
  EXPECT_EQ(ns(t.total), std::max(copy, kernel)) << "the copy and the kernel overlap";
}

TEST(DeviceModel, ACpuReadOfADevicePageIsChargedOnTheHost) {
  uvm::manager m{modelled()};
  auto v = m.allocate<std::uint64_t>(words);
  fill(v);
  const auto view = v.view();
  m.parallel_for(1, [=](std::size_t) { view.store(0, 42); });
  m.synchronize();
  m.reset_stats();
  EXPECT_EQ(v.data()[0], 42u);
  const uvm::modelled_time t = m.stats().modelled.at(0);
  EXPECT_EQ(ns(t.cpu_faults), 7'000u + profile().d2h.copy_ns(page_bytes));
  EXPECT_EQ(ns(t.total), ns(t.cpu_faults));
}

TEST(DeviceModel, RemoteAccessesAreChargedByTheLinesTheyReach) {
  uvm::manager m{modelled()};
  auto v = m.allocate<std::uint64_t>(words);
  fill(v);
  m.advise(v.data(), page_bytes, uvm::advice::set_preferred_location, uvm::location::host());
  m.advise(v.data(), page_bytes, uvm::advice::set_accessed_by, uvm::location::device());
  m.reset_stats();
  // One 8-byte load in each 128-byte line of the page: 512 lines.
  const auto view = v.const_view();
  std::atomic<std::uint64_t> sum{0};
  m.parallel_for(page_bytes / 128, [=, &sum](std::size_t l) { sum += view.load(l * 16); });
  m.synchronize();
  const uvm::stats s = m.stats();
  ASSERT_EQ(s.remote_mappings, 1u) << "the page is mapped remote, not moved";
  EXPECT_EQ(ns(s.modelled.at(0).remote), 500u + (512u * 128u) / 16u);
  EXPECT_EQ(ns(s.modelled.at(0).fault_copies), 0u);
  EXPECT_EQ(s.modelled.at(0).device_faults, 0u)
      << "a GPU maps a page for a device advised to access it without a fault";

  // Every word of the page, by many lanes (on every worker): each line once, as a GPU's warps
  // coalesce neighbouring lanes and its L2 keeps the line; so 512 lines again.
  m.reset_stats();
  m.parallel_for(words, [=, &sum](std::size_t i) { sum += view.load(i); });
  m.synchronize();
  EXPECT_EQ(ns(m.stats().modelled.at(0).remote), 500u + (512u * 128u) / 16u);
}

// A program of kernels that fault (lanes load, then store: read faults, then write faults that
// batches merge or not, as timing has it), a prefetch and a kernel on a second stream, and a CPU
// read back; its modelled figures.
uvm::modelled_time program(unsigned workers) {
  uvm::manager m{modelled(workers)};
  auto v = m.allocate<std::uint64_t>(40 * words);
  auto w = m.allocate<std::uint64_t>(24 * words);
  fill(v);
  fill(w);
  const uvm::stream other = m.create_stream("other");
  const auto vv = v.view();
  m.parallel_for(v.size() / 8, [=](std::size_t i) { vv.store(i * 8, vv.load(i * 8) + 1); });
  m.synchronize();
  m.prefetch(w.data(), w.size() * sizeof(std::uint64_t), uvm::location::device(), other);
  const auto wv = w.view();
  m.parallel_for(
      w.size() / 4, [=](std::size_t i) { wv.store(i * 4, i); }, other);
  m.synchronize(other);
  std::uint64_t sum = 0;
  for (std::size_t p = 0; p < 10; ++p) sum += v.data()[p * words];  // 10 CPU faults
  EXPECT_EQ(sum, 45u * words + 10u) << "the kernel's stores are seen";
  m.parallel_for(v.size() / 8, [=](std::size_t i) { vv.store(i * 8, vv.load(i * 8) + 1); });
  m.synchronize();
  return m.stats().modelled.at(0);
}

TEST(DeviceModel, TheSameProgramGivesTheSameModelledTimeWithOneOrTwoWorkers) {
  const uvm::modelled_time one = program(1);
  EXPECT_GT(one.total.count(), 0);
  EXPECT_GT(one.device_faults, 0u);
  EXPECT_GT(one.stream_copies.count(), 0);
  EXPECT_GT(one.cpu_faults.count(), 0);
  for (unsigned workers : {2u, 2u, 1u}) {
    const uvm::modelled_time again = program(workers);
    EXPECT_EQ(again.total, one.total) << workers << " workers";
    EXPECT_EQ(again.kernels, one.kernels);
    EXPECT_EQ(again.compute, one.compute);
    EXPECT_EQ(again.fault_service, one.fault_service);
    EXPECT_EQ(again.fault_copies, one.fault_copies);
    EXPECT_EQ(again.stream_copies, one.stream_copies);
    EXPECT_EQ(again.cpu_faults, one.cpu_faults);
    EXPECT_EQ(again.device_faults, one.device_faults);
  }
}

}  // namespace
