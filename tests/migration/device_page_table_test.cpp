// The device page table and its shadow on the emulated device: entries reach the device only by
// publication, in stream order after earlier copies; device-set bits come back in bulk.
#include "host/migration/device_page_table.hpp"

#include "host/backend/emulated/emulated_backend.hpp"

#include <uvm/detail/device_pte.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <vector>

namespace uvm::detail {
namespace {

using namespace std::chrono_literals;

TEST(DevicePageTable, StartsInvalidOnBothSides) {
  emulated_backend b;
  table_pool pool(b, 4096);
  device_page_table t(b, *pool.take(1000));
  for (std::size_t p = 0; p < t.size(); ++p) {
    ASSERT_EQ(t.get(p), 0u);
    ASSERT_EQ(t.device()[p], 0u);
  }
}

TEST(DevicePageTable, EntriesReachTheDeviceOnlyWhenPublished) {
  emulated_backend b;
  table_pool pool(b, 4096);
  device_page_table t(b, *pool.take(64));
  const stream s = b.create_stream("pt");
  for (std::size_t p = 10; p < 20; ++p)
    t.set(p, make_pte(static_cast<std::uint32_t>(p), pte_valid));
  EXPECT_EQ(t.device()[10], 0u) << "the shadow alone changed";
  t.publish(10, 10, s);
  ASSERT_TRUE(b.wait(b.record(s), 5s));
  for (std::size_t p = 0; p < 64; ++p) {
    const device_pte want =
        p >= 10 && p < 20 ? make_pte(static_cast<std::uint32_t>(p), pte_valid) : 0;
    EXPECT_EQ(t.device()[p], want) << p;
  }
}

TEST(DevicePageTable, PublicationFollowsTheDataOnItsStream) {
  emulated_backend b;
  table_pool pool(b, 4096);
  device_page_table t(b, *pool.take(4));
  const stream s = b.create_stream("pt");
  constexpr std::size_t bytes = 8 << 20;
  auto* frame = static_cast<std::byte*>(b.allocate_device(bytes));
  std::vector<std::byte> data(bytes, std::byte{7});
  (void)b.register_host(data.data(), bytes, host_registration::read_write);
  b.copy_async(frame, data.data(), bytes, copy_kind::host_to_device, s);
  t.set(0, make_pte(0, pte_valid));
  t.publish(0, 1, s);
  // Whoever sees the entry sees the data (what a waiting warp relies on).
  const auto end = std::chrono::steady_clock::now() + 5s;
  while ((std::atomic_ref<device_pte>(t.device()[0]).load(std::memory_order_acquire) & pte_valid) ==
             0 &&
         std::chrono::steady_clock::now() < end) {
  }
  EXPECT_EQ(frame[bytes - 1], std::byte{7});
  ASSERT_TRUE(b.wait(b.record(s), 5s));
  b.unregister_host(data.data());
  b.free_device(frame);
}

TEST(DevicePageTable, DeviceBitsAreMergedForValidEntriesItMayMerge) {
  emulated_backend b;
  table_pool pool(b, 4096);
  device_page_table t(b, *pool.take(8));
  const stream s = b.create_stream("pt");
  for (std::size_t p = 0; p < 4; ++p)
    t.set(p, make_pte(static_cast<std::uint32_t>(p), pte_valid | pte_writable));
  t.publish(0, 4, s);
  ASSERT_TRUE(b.wait(b.record(s), 5s));
  for (std::size_t p = 0; p < 8; ++p) t.device()[p] |= pte_dirty | pte_accessed;  // "kernel" stores
  ASSERT_TRUE(t.refresh_device_bits(s, 5s, [](std::size_t p) { return p != 2; }));
  EXPECT_NE(t.get(0) & pte_dirty, 0u);
  EXPECT_NE(t.get(1) & pte_accessed, 0u);
  EXPECT_EQ(t.get(2) & (pte_dirty | pte_accessed), 0u) << "claimed: not merged";
  EXPECT_EQ(t.get(5), 0u) << "invalid in the shadow: nothing merged";
  EXPECT_EQ(pte_frame(t.get(3)), 3u);
}

}  // namespace
}  // namespace uvm::detail
