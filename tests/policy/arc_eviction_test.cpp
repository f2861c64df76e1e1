#include "host/policy/arc_eviction.hpp"

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

// 50 pages used three times, a scan of 500 other pages once, then the 50 again: 100 frames.
std::vector<std::uint32_t> reuse_scan_reuse() {
  std::vector<std::uint32_t> refs = loop(50, 3);
  for (std::uint32_t p = 0; p < 500; ++p) refs.push_back(1000 + p);
  for (std::uint32_t p = 0; p < 50; ++p) refs.push_back(p);
  return refs;
}

TEST(ArcEviction, KeepsReusedPagesThroughAScanLargerThanTheDevice) {
  // The 50 pages used again are in T2; the scan passes through T1 (p stays 0: no ghost comes
  // back), so they are all still resident at the end. LRU lets the scan push them out.
  const auto refs = reuse_scan_reuse();
  arc_eviction arc;
  lru_eviction lru;
  EXPECT_EQ(faults(arc, 100, refs), 50u + 500u);
  EXPECT_EQ(faults(lru, 100, refs), 50u + 500u + 50u);
  EXPECT_EQ(arc.frequent_size(), 50u);
  EXPECT_EQ(arc.target(), 0u);
}

TEST(ArcEviction, AGhostOfT1RaisesTheTargetAndTheVictimMovesToT2) {
  arc_eviction a;
  a.on_resident(pg(1));
  a.on_resident(pg(2));
  a.on_access(pg(1));
  a.on_access(pg(2));  // T2: 1 2
  a.on_resident(pg(3));
  a.on_resident(pg(4));          // T1: 3 4, c = 4
  EXPECT_EQ(a.victim(), pg(3));  // |T1| = 2 > p = 0
  a.on_released(pg(3));          // B1: 3
  a.on_resident(pg(5));          // T1: 4 5
  EXPECT_EQ(a.victim(), pg(4));
  a.on_released(pg(4));  // B1: 3 4
  EXPECT_EQ(a.ghost_size(), 2u);
  a.on_resident(pg(3));  // a hit in B1: p = 0 + max(1, |B2| / |B1|) = 1, and 3 goes to T2
  EXPECT_EQ(a.target(), 1u);
  EXPECT_EQ(a.recent_size(), 1u);
  EXPECT_EQ(a.frequent_size(), 3u);
  // |T1| = 1 is not above p: T2's least recent page goes, not T1's 5.
  EXPECT_EQ(a.victim(), pg(1));
  a.on_released(pg(1));  // B2: 1
  a.on_resident(pg(6));  // T1: 5 6
  EXPECT_EQ(a.victim(), pg(5));
  a.on_released(pg(5));  // B1: 4 5
  a.on_resident(pg(1));  // a hit in B2: p = max(0, 1 - max(1, |B1| / |B2| = 2)) = 0
  EXPECT_EQ(a.target(), 0u);
  EXPECT_EQ(a.victim(), pg(6));  // back to T1
  EXPECT_EQ(a.size(), 4u);
}

TEST(ArcEviction, IsLruOnALoopThatNothingUsesTwiceWhileResident) {
  // 150 pages cycled through 100 frames: T1 fills the device, so B1 may hold nothing
  // (|T1| + |B1| <= c) and no page comes back as a ghost. ARC, like LRU, misses every access:
  // the loops are adaptive's and lirs's, not ARC's.
  arc_eviction a;
  EXPECT_EQ(faults(a, 100, loop(150, 4)), 600u);
  EXPECT_EQ(a.frequent_size(), 0u);
  EXPECT_EQ(a.recent_ghost_size(), 0u);
}

TEST(ArcEviction, IgnoresReleasesOfPagesNotResident) {
  arc_eviction a;
  for (std::uint32_t p = 0; p < 4; ++p) a.on_resident(pg(p));
  a.on_released(pg(0));
  EXPECT_EQ(a.ghost_size(), 1u);
  a.on_released(pg(0));   // again: still one ghost
  a.on_released(pg(42));  // never announced: not a ghost
  a.on_access(pg(42));
  a.on_access(pg(0));  // a ghost is not resident: not brought back by an access
  EXPECT_EQ(a.ghost_size(), 1u);
  EXPECT_EQ(a.size(), 3u);
  EXPECT_EQ(a.victim(), pg(1));
  EXPECT_EQ(a.victim(), pg(1));  // stable: victim() forgets nothing
  EXPECT_EQ(a.size(), 3u);
}

TEST(ArcEviction, VictimsAreResidentAndGhostsStayBounded) {
  // faults() checks each victim is resident; c = 80, so at most 2c pages are remembered.
  const auto refs = hot_cold(40, 360, 0.7, 20000);
  arc_eviction a;
  lru_eviction lru;
  const std::size_t n = faults(a, 80, refs);
  EXPECT_EQ(a.size(), 80u);
  EXPECT_LE(a.size() + a.ghost_size(), 160u);
  EXPECT_LE(a.recent_size() + a.recent_ghost_size(), 80u);
  // Pages used again stay in T2 while cold ones pass through T1: fewer faults than LRU.
  EXPECT_LT(n, faults(lru, 80, refs));
  EXPECT_EQ(make_eviction_policy("arc")->name(), "arc");
}

}  // namespace
}  // namespace uvm::detail
