// The range table (host/migration/range_table.hpp): a range added while kernels run waits for
// its registration, and what a range freed while kernels run leaves (its registration, its
// runtime view, its table's entries) stays until the table is buried.
#include "host/migration/range_table.hpp"

#include "tests/migration/device_rig.hpp"

#include <uvm/error.hpp>

#include <gtest/gtest.h>

#include <sys/mman.h>

#include <array>
#include <chrono>
#include <optional>

namespace uvm::detail {
namespace {

using namespace std::chrono_literals;

// Gives `r` the id the table chose, as the migrator does.
void give_id(managed_range& r, std::uint32_t id) {
  device_range d;
  d.range_id = id;
  r.attach_device(d);
}

bool registered_with(backend& b, const managed_range& r) {
  try {
    (void)b.register_host(r.runtime_view(), r.reserved(), host_registration::read_write);
  } catch (const uvm::error&) {
    return true;  // overlaps a registration: it is registered
  }
  b.unregister_host(r.runtime_view());
  return false;
}

TEST(RangeTable, ARangeAddedWhileKernelsRunIsRegisteredOnlyWhenAskedTo) {
  device_rig rig(4);
  range_table t(rig.dev, 4096);
  const stream s = rig.dev.create_stream("tables");
  managed_range r(rig.ctx, 8 * page_bytes, page_bytes);
  const std::optional<std::uint32_t> id = t.add(r, /*quiet=*/false, {&s, 1}, 2s);
  ASSERT_TRUE(id.has_value());
  give_id(r, *id);
  EXPECT_FALSE(t.registered(*id));
  EXPECT_FALSE(t.reachable(*id)) << "an unregistered range was open to remote mappings";
  EXPECT_EQ(t.waiting(), 1u);
  EXPECT_FALSE(registered_with(rig.dev, r));
  t.register_waiting();
  EXPECT_TRUE(t.registered(*id));
  EXPECT_TRUE(t.reachable(*id)) << "the emulated device reaches host memory at its own address";
  EXPECT_EQ(t.waiting(), 0u);
  EXPECT_TRUE(registered_with(rig.dev, r));
  t.remove(r, /*quiet=*/true);
  EXPECT_FALSE(registered_with(rig.dev, r)) << "a quiet removal unregisters at once";
}

TEST(RangeTable, WhatARangeFreedWhileKernelsRunLeavesStaysUntilBuried) {
  device_rig rig(4);
  range_table t(rig.dev, 4096);
  const stream s = rig.dev.create_stream("tables");
  std::byte* view = nullptr;
  std::size_t bytes = 0;
  {
    managed_range r(rig.ctx, 8 * page_bytes, page_bytes);
    const std::optional<std::uint32_t> id = t.add(r, /*quiet=*/true, {&s, 1}, 2s);
    ASSERT_TRUE(id.has_value());
    give_id(r, *id);
    view = r.runtime_view();
    bytes = r.reserved();
    t.remove(r, /*quiet=*/false);
  }
  EXPECT_FALSE(t.graveyard_empty());
  EXPECT_EQ(msync(view, bytes, MS_ASYNC), 0) << "the runtime view left with its range";
  EXPECT_THROW((void)rig.dev.register_host(view, bytes, host_registration::read_write), uvm::error)
      << "the registration left with its range";
  t.bury();
  EXPECT_TRUE(t.graveyard_empty());
  EXPECT_NE(msync(view, bytes, MS_ASYNC), 0) << "the runtime view outlived the burial";
}

// With several devices a range has a table on each, in that device's pool: entries published on
// one device are not another's, and a reused table is cleared on its own device.
TEST(RangeTable, EachDeviceHasTablesOfItsOwnClearedOnItsOwnStream) {
  device_rig rig(4);
  emulated_backend two(1, 2);
  EXPECT_THROW(range_table(two, 4096, 3), uvm::invalid_argument);
  range_table t(two, 4096, 2);
  ASSERT_EQ(t.devices(), 2u);
  const std::array<stream, 2> clear_on{two.create_stream("t0", 0), two.create_stream("t1", 1)};
  std::uint32_t first = 0;
  {
    managed_range r(rig.ctx, 8 * page_bytes, page_bytes);
    const std::optional<std::uint32_t> id = t.add(r, /*quiet=*/true, clear_on, 2s);
    ASSERT_TRUE(id.has_value());
    give_id(r, *id);
    first = *id;
    device_page_table& one = t.table(*id, 1);
    ASSERT_NE(one.device(), t.table(*id, 0).device());
    one.set(3, make_pte(7, pte_valid));
    one.publish(3, 1, clear_on[1]);
    ASSERT_TRUE(two.wait(two.record(clear_on[1]), 2s));
    EXPECT_EQ(one.device()[3], make_pte(7, pte_valid));
    EXPECT_EQ(t.table(*id, 0).device()[3], 0u) << "device 0's table changed with device 1's";
    t.remove(r, /*quiet=*/true);
  }
  managed_range again(rig.ctx, 8 * page_bytes, page_bytes);
  const std::optional<std::uint32_t> id = t.add(again, /*quiet=*/true, clear_on, 2s);
  ASSERT_TRUE(id.has_value());
  give_id(again, *id);
  EXPECT_EQ(*id, first);
  EXPECT_EQ(t.table(*id, 1).device()[3], 0u) << "a reused table kept an entry";
  EXPECT_EQ(t.table(*id, 1).get(3), 0u);
  t.remove(again, /*quiet=*/true);
}

}  // namespace
}  // namespace uvm::detail
