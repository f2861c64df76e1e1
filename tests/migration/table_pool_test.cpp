// The page-table pool (host/migration/table_pool.hpp): runs of entries handed out without
// allocating or registering anything (a range may be allocated while kernels run), merged when
// given back, and an arena added only when asked.
#include "host/migration/table_pool.hpp"

#include "host/backend/emulated/emulated_backend.hpp"
#include "tests/backend/failing_backend.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

namespace uvm::detail {
namespace {

using testing::failing_backend;

TEST(TablePool, RunsComeFromTheArenaWithoutAllocatingAndNeverOverlap) {
  emulated_backend inner;
  failing_backend b(inner);
  table_pool pool(b, 1000);
  b.fail(failing_backend::op::allocate, 1);  // the next allocation fails
  std::vector<table_pool::slice> runs;
  for (std::size_t count : {100u, 300u, 1u, 599u}) {
    const auto s = pool.take(count);
    ASSERT_TRUE(s.has_value()) << count;
    EXPECT_EQ(s->count, count);
    EXPECT_TRUE(s->clean) << "a fresh arena's entries are all zero";
    for (const table_pool::slice& r : runs) {
      EXPECT_TRUE(s->device + count <= r.device || r.device + r.count <= s->device);
      EXPECT_TRUE(s->shadow + count <= r.shadow || r.shadow + r.count <= s->shadow);
    }
    runs.push_back(*s);
  }
  EXPECT_FALSE(pool.take(1).has_value()) << "the arena is full";
  EXPECT_EQ(b.injected(), 0u) << "take() allocated";
  EXPECT_EQ(pool.arenas(), 1u);
  b.disarm();
}

TEST(TablePool, RunsGivenBackMergeAndComeBackNotClean) {
  emulated_backend b;
  table_pool pool(b, 1000);
  const auto x = pool.take(400);
  const auto y = pool.take(200);
  const auto z = pool.take(400);
  ASSERT_TRUE(x && y && z);
  pool.give_back(*x);
  pool.give_back(*z);
  EXPECT_FALSE(pool.take(500).has_value()) << "400 and 400 apart are no run of 500";
  pool.give_back(*y);
  const auto all = pool.take(1000);
  ASSERT_TRUE(all.has_value()) << "the three runs did not merge";
  EXPECT_FALSE(all->clean) << "entries a table used must be cleared before reuse";
}

TEST(TablePool, GrowAddsAnArenaLargeEnoughForTheRun) {
  emulated_backend b;
  table_pool pool(b, 64);
  EXPECT_FALSE(pool.take(5000).has_value());
  pool.grow(5000);
  EXPECT_EQ(pool.arenas(), 2u);
  const auto s = pool.take(5000);
  ASSERT_TRUE(s.has_value());
  EXPECT_TRUE(s->clean);
  for (std::size_t i = 0; i < s->count; ++i) ASSERT_EQ(s->device[i], 0u) << i;
}

}  // namespace
}  // namespace uvm::detail
