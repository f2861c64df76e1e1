#include "host/telemetry/counters.hpp"
#include "tests/migration/emulated_config.hpp"

#include <uvm/uvm.hpp>

#include <gtest/gtest.h>

#include <initializer_list>
#include <string>

namespace uvm::detail {
namespace {

TEST(Histogram, BucketsArePowersOfTwo) {
  atomic_histogram h;
  h.record(0);
  h.record(1);
  h.record(1000);  // [512, 1024)
  h.record(1024);  // [1024, 2048)
  const latency_histogram s = h.snapshot();
  EXPECT_EQ(s.count(), 4u);
  EXPECT_EQ(s.buckets[0], 2u);
  EXPECT_EQ(s.buckets[9], 1u);
  EXPECT_EQ(s.buckets[10], 1u);
  EXPECT_EQ(s.total_ns, 2025u);
  EXPECT_EQ(s.mean().count(), 506);
}

TEST(Histogram, QuantilesFallInTheRightBucket) {
  atomic_histogram h;
  for (int i = 0; i < 90; ++i) h.record(1500);    // bucket [1024, 2048)
  for (int i = 0; i < 10; ++i) h.record(100000);  // bucket [65536, 131072)
  const latency_histogram s = h.snapshot();
  EXPECT_GE(s.quantile(0.5).count(), 1024);
  EXPECT_LT(s.quantile(0.5).count(), 2048);
  EXPECT_GE(s.quantile(0.95).count(), 65536);
  EXPECT_LE(s.quantile(1.0).count(), 131072);
  EXPECT_EQ(latency_histogram{}.quantile(0.5).count(), 0);
}

std::uint64_t total(std::initializer_list<const latency_histogram*> hs) {
  std::uint64_t t = 0;
  for (const latency_histogram* h : hs) t += h->total_ns;
  return t;
}

// The stages of a device fault add up to its service latency, sample for sample; the stages of
// a serviced CPU fault fit within its latency; every stage has a sample per fault.
TEST(Stages, EveryFaultIsBrokenDownAndTheStagesAddUp) {
  uvm::manager mgr(uvm::testing::emulated(64 << 10));
  constexpr std::size_t pages = 64;
  constexpr std::size_t words = (64 << 10) / 4;
  auto a = mgr.allocate<std::uint32_t>(pages * words);
  for (std::size_t i = 0; i < pages; ++i) a[i * words] = 1;  // host-resident
  mgr.reset_stats();
  auto v = a.view();
  mgr.parallel_for(pages, [=](std::size_t i) { v.store(i * words + 1, 7); });
  mgr.synchronize();
  const uvm::stats d = mgr.stats();
  ASSERT_EQ(d.device.count, pages);
  const uvm::device_fault_stages& ds = d.device_stages;
  for (const latency_histogram* h :
       {&ds.queued, &ds.planned, &ds.issued, &ds.landed, &ds.published}) {
    EXPECT_EQ(h->count(), pages);
  }
  EXPECT_EQ(total({&ds.planned, &ds.issued, &ds.landed, &ds.published}), d.device.latency.total_ns);
  EXPECT_GT(ds.landed.total_ns, 0u) << "the copies took no time";
  EXPECT_GT(d.service_cpu_time.count(), 0) << "the service thread served 64 faults in no time";

  mgr.reset_stats();
  EXPECT_LT(mgr.stats().service_cpu_time, d.service_cpu_time)
      << "reset_stats did not restart the service thread's CPU time";
  for (std::size_t i = 0; i < pages; ++i) ASSERT_EQ(a[i * words + 1], 7u);  // each page comes back
  const uvm::stats c = mgr.stats();
  ASSERT_EQ(c.serviced.count, pages);
  const uvm::cpu_fault_stages& cs = c.serviced_stages;
  for (const latency_histogram* h : {&cs.queued, &cs.waited, &cs.woken, &cs.copied, &cs.opened}) {
    EXPECT_EQ(h->count(), pages);
  }
  EXPECT_LE(total({&cs.queued, &cs.waited, &cs.copied, &cs.opened, &cs.woken}),
            c.serviced.latency.total_ns);
  EXPECT_GT(cs.copied.total_ns, 0u);
  EXPECT_GT(cs.queued.total_ns, 0u);
}

TEST(Counters, ResetZeroesEverything) {
  counters c;
  c.first_touch.record(10);
  c.spurious_faults = 3;
  c.device_stages.landed.record(5);
  c.serviced_stages.woken.record(5);
  c.reset();
  const stats s = c.snapshot();
  EXPECT_EQ(s.device_stages.landed.count(), 0u);
  EXPECT_EQ(s.serviced_stages.woken.count(), 0u);
  EXPECT_EQ(s.first_touch.count, 0u);
  EXPECT_EQ(s.first_touch.latency.count(), 0u);
  EXPECT_EQ(s.cpu_faults(), 0u);
}

TEST(Summary, NamesEveryCounterOnOneLine) {
  counters c;
  c.first_touch.record(2'000'000);  // 2 ms
  c.upgrade.record(1000);
  c.spurious_faults = 3;
  c.device.record(500'000);
  c.evictions = 7;
  c.remote_mappings = 11;
  c.promoted_pages = 13;
  c.thrashing_pins = 17;
  stats s = c.snapshot();
  s.bytes_host_to_device = 3u << 20;
  s.bytes_device_to_host = 1u << 19;
  const std::string line = summary(s);
  EXPECT_EQ(line.find('\n'), std::string::npos);
  for (const char* part : {"faults cpu 5 (first-touch 1, upgrade 1,", "spurious 3), device 1",
                           "H2D 3.0 MiB, D2H 0.5 MiB", "evictions 7, remote 11", "promoted 13",
                           "17 pins", "in faults: cpu 2.0 ms, device 0.5 ms"}) {
    EXPECT_NE(line.find(part), std::string::npos) << part << " not in: " << line;
  }
}

TEST(Summary, PrintedAtManagerDestructionWhenAskedFor) {
  for (const bool asked : {true, false}) {
    uvm::config cfg = uvm::testing::emulated();
    cfg.print_stats = asked;
    ::testing::internal::CaptureStderr();
    {
      uvm::manager mgr(cfg);
      auto a = mgr.allocate<int>(16);
      a[0] = 1;  // one first touch
    }
    const std::string err = ::testing::internal::GetCapturedStderr();
    EXPECT_EQ(err.find("uvm: faults cpu 1 (first-touch 1,") != std::string::npos, asked) << err;
  }
}

}  // namespace
}  // namespace uvm::detail
