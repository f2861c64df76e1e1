#include "host/telemetry/counters.hpp"
#include "tests/migration/emulated_config.hpp"

#include <uvm/uvm.hpp>

#include <gtest/gtest.h>

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

TEST(Counters, ResetZeroesEverything) {
  counters c;
  c.first_touch.record(10);
  c.spurious_faults = 3;
  c.reset();
  const stats s = c.snapshot();
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
