#include "host/fault/service/map_budget.hpp"
#include "host/runtime.hpp"
#include "tests/common/fault_mechanism.hpp"

#include <uvm/uvm.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

namespace uvm::detail {
namespace {

// Mappings of this process that overlap [p, p + bytes), read from /proc/self/maps.
std::size_t mappings_in(const void* p, std::size_t bytes) {
  const auto lo = reinterpret_cast<std::uintptr_t>(p);
  const std::uintptr_t hi = lo + bytes;
  std::ifstream maps("/proc/self/maps");
  std::string line;
  std::size_t n = 0;
  while (std::getline(maps, line)) {
    std::uintptr_t a = 0, b = 0;
    char dash = 0;
    std::istringstream(line) >> std::hex >> a >> dash >> b;
    if (a < hi && b > lo) ++n;
  }
  return n;
}

uvm::config small_pages() {
  uvm::config c = uvm::testing::test_config();
  c.page_size = 4096;
  return c;
}

// Coarsening exists for mechanisms that split mappings: these tests are about signals.
uvm::config small_signal_pages() {
  uvm::config c = small_pages();
  c.faults = uvm::fault_mechanism::signal;
  return c;
}

struct scoped_budget {
  explicit scoped_budget(std::int64_t limit) : old(map_budget::process().limit()) {
    map_budget::process().set_limit(limit);
  }
  ~scoped_budget() { map_budget::process().set_limit(old); }
  std::int64_t old;
};

TEST(ManagedRange, BoundaryEstimateMatchesTheKernelsMappings) {
  uvm::manager mgr(small_pages());
  const std::int64_t before = map_budget::process().used();
  uvm::range r = mgr.allocate(256 * 4096);
  EXPECT_EQ(mappings_in(r.data(), r.size()), 1u);
  // Every third page: each touch splits the app view further.
  for (std::size_t p = 0; p < 256; p += 3) r.data()[p * 4096] = std::byte{1};
  const std::int64_t boundaries = map_budget::process().used() - before;
  EXPECT_EQ(static_cast<std::size_t>(boundaries) + 1, mappings_in(r.data(), r.size()));
  // Filling the gaps merges everything back into one mapping.
  for (std::size_t p = 0; p < 256; ++p) r.data()[p * 4096] = std::byte{1};
  EXPECT_EQ(mappings_in(r.data(), r.size()), 1u);
  EXPECT_EQ(map_budget::process().used(), before);
  EXPECT_EQ(mgr.stats().coarsened_blocks, 0u);
}

TEST(ManagedRange, NearTheMappingBudgetFaultsCoarsenToBlocks) {
  constexpr std::int64_t limit = 64;
  uvm::manager mgr(small_signal_pages());
  scoped_budget budget(map_budget::process().used() + limit);
  constexpr std::size_t pages = 16384;  // 64 MiB: 32 blocks of 2 MiB
  auto v = mgr.allocate<std::uint32_t>(pages * 1024);
  std::vector<std::size_t> order(pages);
  for (std::size_t i = 0; i < pages; ++i) order[i] = i;
  std::shuffle(order.begin(), order.end(), std::mt19937(1));
  for (std::size_t p : order) v[p * 1024 + 5] = static_cast<std::uint32_t>(p);
  for (std::size_t p = 0; p < pages; ++p) ASSERT_EQ(v[p * 1024 + 5], p);
  const uvm::stats s = mgr.stats();
  EXPECT_GT(s.coarsened_blocks, 0u);
  EXPECT_LT(s.first_touch.count, pages) << "coarsened blocks need no fault per page";
  // Each block that coarsened adds at most 2 boundaries beyond the budget.
  EXPECT_LE(mappings_in(v.data(), pages * 4096), static_cast<std::size_t>(limit) + 2 * 32 + 1);
  EXPECT_EQ(mgr.state_of(v.data() + (pages - 1) * 1024), uvm::page_state::host_exclusive);
}

TEST(ManagedRange, CoarseningTurnsReadOnlyCopiesWritable) {
  uvm::manager mgr(small_signal_pages());
  uvm::range r = mgr.allocate(2 << 20);
  r.advise(uvm::advice::set_read_mostly);
  for (std::size_t p = 0; p < 256; ++p) {
    (void)*reinterpret_cast<volatile std::byte*>(r.data() + p * 4096);
  }
  EXPECT_EQ(r.state_of(r.data()), uvm::page_state::shared);
  EXPECT_EQ(mappings_in(r.data(), r.size()), 2u);
  // No room left: a fault that would split a mapping coarsens its block instead.
  scoped_budget budget(map_budget::process().used());
  r.data()[300 * 4096] = std::byte{7};
  EXPECT_EQ(mgr.stats().coarsened_blocks, 1u);
  for (std::size_t p = 0; p < 512; ++p) {
    ASSERT_EQ(r.state_of(r.data() + p * 4096), uvm::page_state::host_exclusive) << p;
  }
  EXPECT_EQ(mappings_in(r.data(), r.size()), 1u);
  EXPECT_EQ(r.data()[300 * 4096], std::byte{7});
}

}  // namespace
}  // namespace uvm::detail
