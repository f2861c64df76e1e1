#include "host/fault/sources/range_registry.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>

namespace uvm::detail {
namespace {

using namespace std::chrono_literals;

managed_range* fake(std::uintptr_t v) {
  return reinterpret_cast<managed_range*>(v);
}

TEST(RangeRegistry, FindsTheRangeHoldingAnAddress) {
  range_registry& reg = range_registry::process();
  reg.add(0x10000, 0x20000, fake(1));
  reg.add(0x20000, 0x30000, fake(2));
  EXPECT_EQ(&*reg.find(reinterpret_cast<void*>(0x10000)), fake(1));
  EXPECT_EQ(&*reg.find(reinterpret_cast<void*>(0x1ffff)), fake(1));
  EXPECT_EQ(&*reg.find(reinterpret_cast<void*>(0x20000)), fake(2));
  EXPECT_FALSE(reg.find(reinterpret_cast<void*>(0x30000)));
  EXPECT_FALSE(reg.find(nullptr));
  EXPECT_TRUE(reg.remove(fake(1), 1s));
  EXPECT_FALSE(reg.find(reinterpret_cast<void*>(0x10000)));
  EXPECT_TRUE(reg.remove(fake(2), 1s));
  EXPECT_EQ(reg.live(), 0u);
}

TEST(RangeRegistry, RemoveWaitsForPinsAndGivesUpAtItsTimeout) {
  range_registry& reg = range_registry::process();
  reg.add(0x40000, 0x50000, fake(3));
  {
    range_registry::pin p = reg.find(reinterpret_cast<void*>(0x40000));
    ASSERT_TRUE(p);
    EXPECT_FALSE(reg.remove(fake(3), 50ms)) << "a handler still holds it";
    EXPECT_FALSE(reg.find(reinterpret_cast<void*>(0x40000))) << "unpublished even so";
  }
  EXPECT_EQ(reg.live(), 0u);
}

TEST(RangeRegistry, ConcurrentLookupsDuringAddAndRemove) {
  range_registry& reg = range_registry::process();
  std::atomic<bool> stop{false};
  std::atomic<std::uint64_t> hits{0};
  std::thread reader([&] {
    while (!stop) {
      if (auto p = reg.find(reinterpret_cast<void*>(0x60000))) {
        EXPECT_EQ(&*p, fake(4));
        hits.fetch_add(1);
      }
    }
  });
  for (int i = 0; i < 2000; ++i) {
    reg.add(0x60000, 0x70000, fake(4));
    EXPECT_TRUE(reg.remove(fake(4), 1s));
  }
  stop = true;
  reader.join();
  EXPECT_EQ(reg.live(), 0u);
}

}  // namespace
}  // namespace uvm::detail
