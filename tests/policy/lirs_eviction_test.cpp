#include "host/policy/lirs_eviction.hpp"

#include "host/policy/lru_eviction.hpp"
#include "tests/policy/policy_driver.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

namespace uvm::detail {
namespace {

using testing::faults;
using testing::hot_cold;
using testing::loop;

page_ref pg(std::uint32_t page) {
  return page_ref{0, page};
}

TEST(LirsEviction, KeepsPartOfALoopLargerThanTheDevice) {
  // 150 pages cycled 40 times through 100 frames: LRU 6000 faults, MIN 150 + 39 * 50 = 2100.
  // The LIR pages (99 of 100 frames) stay; the rest of the loop cycles through one frame.
  lirs_eviction l;
  const std::size_t n = faults(l, 100, loop(150, 40));
  EXPECT_GE(n, 2100u);  // nothing beats MIN
  EXPECT_LE(n, 2100u + 100u);
  EXPECT_EQ(l.lir_size(), 99u);
  EXPECT_EQ(l.hir_size(), 1u);
}

TEST(LirsEviction, KeepsReusedPagesThroughAScanLargerThanTheDevice) {
  std::vector<std::uint32_t> refs = loop(50, 3);
  for (std::uint32_t p = 0; p < 500; ++p) refs.push_back(1000 + p);
  for (std::uint32_t p = 0; p < 50; ++p) refs.push_back(p);
  // The 50 pages become LIR (all but the first page ever seen: c was 1 then, and the one frame
  // was HIR); the scan cycles through Q. LRU lets the scan push all 50 out.
  lirs_eviction l;
  lru_eviction lru;
  EXPECT_EQ(faults(l, 100, refs), 50u + 500u + 1u);
  EXPECT_EQ(faults(lru, 100, refs), 50u + 500u + 50u);
}

TEST(LirsEviction, EvictsByInterReferenceRecencyNotRecency) {
  // 3 frames: 2 LIR, 1 HIR. The first page is HIR (c was 1 when it came), 1 and 2 are LIR.
  lirs_eviction l;
  for (std::uint32_t p : {0u, 1u, 2u}) l.on_resident(pg(p));
  EXPECT_FALSE(l.is_lir(pg(0)));
  EXPECT_TRUE(l.is_lir(pg(1)));
  EXPECT_TRUE(l.is_lir(pg(2)));
  // 1 2 0: LRU's victim would be 1; LIRS's is 0, the most recent, because it is HIR.
  l.on_access(pg(1));
  l.on_access(pg(2));
  l.on_access(pg(0));  // S = 1 2 0, Q = 0
  EXPECT_EQ(l.victim(), pg(0));
  EXPECT_EQ(l.victim(), pg(0));  // stable
  l.on_released(pg(0));          // stays in S, not resident
  l.on_resident(pg(4));          // HIR: S = 1 2 0 4
  EXPECT_EQ(l.victim(), pg(4));
  l.on_released(pg(4));
  // 0 comes back while in S: its reuse was within the LIR pages' span, so it becomes LIR and
  // the least recent LIR page, 1, becomes HIR: the next victim.
  l.on_resident(pg(0));
  EXPECT_TRUE(l.is_lir(pg(0)));
  EXPECT_FALSE(l.is_lir(pg(1)));
  EXPECT_EQ(l.victim(), pg(1));
  EXPECT_EQ(l.size(), 3u);
  EXPECT_EQ(l.lir_size(), 2u);
}

TEST(LirsEviction, NonResidentEntriesStayBounded) {
  // A scan of 10 000 pages through 100 frames: S keeps at most c non-resident pages.
  lirs_eviction l;
  std::vector<std::uint32_t> refs = loop(100, 2);
  for (std::uint32_t p = 0; p < 10000; ++p) refs.push_back(1000 + p);
  (void)faults(l, 100, refs);
  EXPECT_LE(l.stack_size(), 2u * 100u + 1u);
  EXPECT_EQ(l.size(), 100u);
}

TEST(LirsEviction, IgnoresReleasesOfPagesNotResident) {
  lirs_eviction l;
  for (std::uint32_t p = 0; p < 4; ++p) l.on_resident(pg(p));
  const std::size_t s = l.stack_size();
  l.on_released(pg(42));  // never announced
  l.on_access(pg(42));
  EXPECT_EQ(l.stack_size(), s);
  EXPECT_EQ(l.size(), 4u);
  const auto v = l.victim();
  ASSERT_TRUE(v.has_value());
  l.on_released(*v);
  const std::size_t after = l.stack_size();
  l.on_released(*v);  // again
  l.on_access(*v);    // not resident
  EXPECT_EQ(l.stack_size(), after);
  EXPECT_EQ(l.size(), 3u);
  EXPECT_NE(l.victim(), v);
  // A non-resident page still in S: released twice, or accessed, it changes nothing.
  l.on_resident(pg(5));  // HIR, in S and Q
  ASSERT_EQ(l.victim(), pg(5));
  l.on_released(pg(5));
  const std::size_t lir = l.lir_size(), stack = l.stack_size();
  l.on_released(pg(5));
  l.on_access(pg(5));
  EXPECT_EQ(l.lir_size(), lir);
  EXPECT_EQ(l.stack_size(), stack);
  EXPECT_EQ(l.size(), 3u);
}

TEST(LirsEviction, VictimsAreResidentUnderSkewedPopularity) {
  // faults() checks each victim is resident.
  const auto refs = hot_cold(40, 360, 0.7, 20000);
  lirs_eviction l;
  lru_eviction lru;
  EXPECT_LT(faults(l, 80, refs), faults(lru, 80, refs));
  EXPECT_EQ(l.size(), 80u);
  EXPECT_EQ(make_eviction_policy("lirs")->name(), "lirs");
}

}  // namespace
}  // namespace uvm::detail
