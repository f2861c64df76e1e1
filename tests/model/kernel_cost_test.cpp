// What the device model charges a kernel, term by term: each alone gives the documented time.

#include "host/model/kernel_cost.hpp"

#include <gtest/gtest.h>

namespace {

using uvm::copy_direction;
using uvm::detail::kernel_account;
using uvm::detail::modelled_move;

uvm::device_profile profile() {
  uvm::device_profile p;
  p.name = "test";
  p.h2d = {2, {{1, 10}}};  // 2 us + bytes at 10 GB/s
  p.d2h = {1, {{1, 20}}};  // 1 us + bytes at 20 GB/s
  p.d2d = {0.5, {{1, 50}}};
  p.fault_batch_size = 4;
  p.fault_batch_us = 20;
  p.fault_us = 3;
  p.publish_us = 1;
  p.line_bytes = 128;
  p.remote_gbps = 16;
  p.remote_latency_us = 0.5;
  p.memory_gbps = 1000;
  p.launch_us = 5;
  return p;
}

constexpr std::uint64_t page = 65536;

TEST(KernelCost, ALaunchAloneCostsItsLaunches) {
  kernel_account a;
  a.launches = 3;
  const auto c = uvm::detail::cost_of(profile(), page, a);
  EXPECT_EQ(c.launch, 15'000u);
  EXPECT_EQ(c.total(), 15'000u);
}

TEST(KernelCost, AccessesCostTheirBytesAtMemoryBandwidth) {
  kernel_account a;
  a.access_bytes = 1'000'000;  // 1 MB at 1000 GB/s: 1 us
  EXPECT_EQ(uvm::detail::cost_of(profile(), page, a).compute, 1'000u);
}

TEST(KernelCost, FaultsAreServedInBatches) {
  kernel_account a;
  a.faults = 9;  // batches of 4: 3 batches
  const auto c = uvm::detail::cost_of(profile(), page, a);
  EXPECT_EQ(c.batches, 3u);
  EXPECT_EQ(c.fault_service, 3 * (20'000u + 1'000u) + 9 * 3'000u);
  EXPECT_EQ(c.fault_copies, 0u) << "faults that move nothing (remote mappings) copy nothing";
}

TEST(KernelCost, NeighbouringPagesMoveInOneCopyWithinA2MiBBlock) {
  kernel_account a;
  // Pages 30..33 of range 1 straddle the block boundary at page 32 (32 pages of 64 KiB a
  // block): two copies of 2 pages. Page 40 alone: one. Range 2's page 31: one more. A page
  // evicted (to the host) is a copy of its own direction.
  for (std::uint64_t p : {33, 30, 31, 32, 40})
    a.fault_moves.push_back({1, p, copy_direction::host_to_device});
  a.fault_moves.push_back({2, 31, copy_direction::host_to_device});
  a.fault_moves.push_back({1, 5, copy_direction::device_to_host});
  const uvm::device_profile p = profile();
  const auto c = uvm::detail::cost_of(p, page, a);
  EXPECT_EQ(c.fault_copies,
            2 * p.h2d.copy_ns(2 * page) + 2 * p.h2d.copy_ns(page) + p.d2h.copy_ns(page));
  std::vector<std::uint64_t> sizes;
  std::vector<modelled_move> moves = a.fault_moves;
  uvm::detail::for_each_copy(
      moves, page, [&](std::uint32_t, copy_direction, std::uint64_t b) { sizes.push_back(b); });
  EXPECT_EQ(sizes, (std::vector<std::uint64_t>{2 * page, 2 * page, page, page, page}));
}

TEST(KernelCost, RemoteAndPeerLinesCostTheirBytesOverTheLink) {
  kernel_account a;
  a.remote_lines = 1000;  // 128 KB at 16 GB/s: 8 us, plus 0.5 us once
  a.peer_lines = 1000;    // 128 KB at 50 GB/s: 2.56 us, plus 0.5 us once
  EXPECT_EQ(uvm::detail::cost_of(profile(), page, a).remote, 8'500u + 3'060u);
}

TEST(KernelCost, TheTermsAddUp) {
  kernel_account a;
  a.launches = 1;
  a.faults = 1;
  a.fault_moves.push_back({0, 0, copy_direction::host_to_device});
  a.access_bytes = 2'000'000;
  const uvm::device_profile p = profile();
  const auto c = uvm::detail::cost_of(p, page, a);
  EXPECT_EQ(c.total(), 5'000u + 2'000u + (20'000u + 1'000u + 3'000u) + p.h2d.copy_ns(page));
}

}  // namespace
