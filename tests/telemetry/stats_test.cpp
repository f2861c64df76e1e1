#include "host/telemetry/counters.hpp"

#include <gtest/gtest.h>

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

}  // namespace
}  // namespace uvm::detail
