// A 2 GiB range at the smallest page size, touched in random order. Per-page protections would
// need ~half a million mappings, far above vm.max_map_count (65530 here); the library must
// complete anyway (it coarsens to 2 MiB blocks near its mapping budget).
#include "tests/common/fault_mechanism.hpp"

#include <uvm/uvm.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <numeric>
#include <random>
#include <vector>

#include <unistd.h>

namespace {

TEST(RandomTouch, TwoGiBAtTheSmallestPageSizeCompletes) {
  uvm::config cfg = uvm::testing::test_config();
  cfg.page_size = static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
  uvm::manager mgr(cfg);
  constexpr std::size_t bytes = std::size_t{2} << 30;
  uvm::range r = mgr.allocate(bytes);
  const std::size_t pages = r.page_count();
  std::vector<std::uint32_t> order(pages);
  std::iota(order.begin(), order.end(), 0u);
  std::shuffle(order.begin(), order.end(), std::mt19937(42));
  auto* words = reinterpret_cast<std::uint32_t*>(r.data());
  const std::size_t per_page = cfg.page_size / sizeof(std::uint32_t);
  for (std::uint32_t p : order) words[p * per_page + (p % per_page)] = p ^ 0x5a5a5a5au;
  for (std::size_t p = 0; p < pages; ++p) {
    ASSERT_EQ(words[p * per_page + (p % per_page)], p ^ 0x5a5a5a5au) << "page " << p;
  }
  const uvm::stats s = mgr.stats();
  // Under signals, near vm.max_map_count the faults coarsen; under userfaultfd nothing splits
  // and every page keeps its own state.
  if (uvm::testing::under_userfaultfd()) {
    EXPECT_EQ(s.coarsened_blocks, 0u);
    EXPECT_EQ(s.first_touch.count, pages);
  } else {
    EXPECT_GT(s.coarsened_blocks, 0u);
  }
  EXPECT_GT(s.first_touch.count, 0u);
  RecordProperty("first_touch_faults", static_cast<int>(s.first_touch.count));
  RecordProperty("coarsened_blocks", static_cast<int>(s.coarsened_blocks));
}

TEST(RandomTouch, SparseReadsOfAReadMostlyRangeCoarsenToo) {
  // Read first touches of a read_mostly range make read-only duplicates: each isolated one
  // splits the mapping as a write would, so they must coarsen near the limit as writes do.
  uvm::config cfg = uvm::testing::test_config();
  cfg.page_size = static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
  uvm::manager mgr(cfg);
  constexpr std::size_t bytes = std::size_t{512} << 20;
  uvm::range r = mgr.allocate(bytes);
  mgr.advise(r.data(), bytes, uvm::advice::set_read_mostly);
  std::vector<std::uint32_t> order(r.page_count() / 2);
  for (std::uint32_t i = 0; i < order.size(); ++i) order[i] = 2 * i;  // every other page
  std::shuffle(order.begin(), order.end(), std::mt19937(7));
  const auto* words = reinterpret_cast<const volatile std::uint32_t*>(r.data());
  const std::size_t per_page = cfg.page_size / sizeof(std::uint32_t);
  std::uint64_t sum = 0;
  for (std::uint32_t p : order) sum += words[p * per_page];
  EXPECT_EQ(sum, 0u) << "unpopulated pages read as zeros";
  if (uvm::testing::under_userfaultfd()) {  // nothing splits: every read is a duplicate
    EXPECT_EQ(mgr.stats().coarsened_blocks, 0u);
    for (std::uint32_t p : order) {
      ASSERT_EQ(r.state_of(r.data() + std::size_t{p} * cfg.page_size), uvm::page_state::shared);
    }
  } else {
    EXPECT_GT(mgr.stats().coarsened_blocks, 0u);
  }
}

}  // namespace
