// The range table (host/migration/range_table.hpp): a range added while kernels run waits for
// its registration, and what a range freed while kernels run leaves (its registration, its
// runtime view, its table's entries) stays until the table is buried.
#include "host/migration/range_table.hpp"

#include "tests/migration/device_rig.hpp"

#include <uvm/error.hpp>

#include <gtest/gtest.h>

#include <sys/mman.h>

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
  const std::optional<std::uint32_t> id = t.add(r, /*quiet=*/false, s, 2s);
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
    const std::optional<std::uint32_t> id = t.add(r, /*quiet=*/true, s, 2s);
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

}  // namespace
}  // namespace uvm::detail
