// The device model's clocks: streams run in order, copies wait for their engine, and work on
// different streams and engines overlaps as it would on a GPU.

#include "host/model/model_clock.hpp"

#include <gtest/gtest.h>

namespace {

using uvm::copy_direction;
using uvm::detail::model_clock;

TEST(ModelClock, TwoCopyEnginesAndAKernelOverlap) {
  model_clock c(1, 2);
  // Three streams issued at 0: a 100 us copy in, a 70 us copy out, a 120 us kernel.
  c.copy(1, 0, copy_direction::host_to_device, 0, 100'000);
  c.copy(2, 0, copy_direction::device_to_host, 0, 70'000);
  c.run(3, 0, 120'000);
  EXPECT_EQ(c.makespan(), 120'000u) << "nothing waits for anything";
  c.wait_all();
  EXPECT_EQ(c.host(), 120'000u);
}

TEST(ModelClock, OneEngineServesBothDirectionsInTurn) {
  model_clock c(1, 1);
  c.copy(1, 0, copy_direction::host_to_device, 0, 100'000);
  EXPECT_EQ(c.copy(2, 0, copy_direction::device_to_host, 0, 70'000), 170'000u);
}

TEST(ModelClock, CopiesInOneDirectionTakeTurnsAcrossStreams) {
  model_clock c(2, 2);
  c.copy(1, 0, copy_direction::host_to_device, 0, 100'000);
  EXPECT_EQ(c.copy(2, 0, copy_direction::host_to_device, 0, 50'000), 150'000u);
  EXPECT_EQ(c.copy(3, 1, copy_direction::host_to_device, 0, 50'000), 50'000u)
      << "another device has engines of its own";
}

TEST(ModelClock, AStreamRunsInOrderAndNotBeforeTheHostIssuedItsWork) {
  model_clock c(1, 2);
  EXPECT_EQ(c.run(1, 0, 10'000), 10'000u);
  EXPECT_EQ(c.copy(1, 0, copy_direction::host_to_device, 0, 5'000), 15'000u);
  EXPECT_EQ(c.run(1, 40'000, 1'000), 41'000u) << "issued by the host at 40 us";
  c.host_work(3'000);
  EXPECT_EQ(c.host(), 3'000u);
  c.wait(1);
  EXPECT_EQ(c.host(), 41'000u);
  c.host_copy(0, copy_direction::device_to_host, 2'000);
  EXPECT_EQ(c.host(), 43'000u);
}

}  // namespace
