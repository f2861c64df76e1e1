#include "host/policy/lfu_eviction.hpp"

#include "host/policy/lru_eviction.hpp"
#include "tests/policy/policy_driver.hpp"

#include <gtest/gtest.h>

namespace uvm::detail {
namespace {

using testing::faults;
using testing::hot_cold;

TEST(LfuEviction, EvictsTheLeastUsedThenTheLeastRecent) {
  lfu_eviction l;
  for (std::uint32_t p : {1u, 2u, 3u}) l.on_resident({0, p});
  l.on_access({0, 1});
  l.on_access({0, 1});
  l.on_access({0, 3});
  // Counts: 1 -> 3, 2 -> 1, 3 -> 2.
  EXPECT_EQ(l.victim(), (page_ref{0, 2}));
  l.on_released({0, 2});
  EXPECT_EQ(l.victim(), (page_ref{0, 3}));
  l.on_access({0, 3});  // 3 -> 3, as used as 1 but more recent
  EXPECT_EQ(l.victim(), (page_ref{0, 1}));
  EXPECT_EQ(l.size(), 2u);
}

TEST(LfuEviction, APageKeepsItsCountAcrossEvictions) {
  lfu_eviction l;
  l.on_resident({0, 1});
  for (int i = 0; i < 5; ++i) l.on_access({0, 1});
  l.on_released({0, 1});
  EXPECT_EQ(l.count({0, 1}), 6u);
  l.on_resident({0, 2});
  l.on_resident({0, 1});  // back: 7 uses
  EXPECT_EQ(l.victim(), (page_ref{0, 2}));
}

TEST(LfuEviction, CountsAgeSoAnOldHotPageGivesWay) {
  lfu_eviction l;
  l.on_resident({0, 1});
  for (int i = 0; i < 100; ++i) l.on_access({0, 1});
  l.on_resident({0, 2});
  // Page 2 used for a long time after: the aging halves 1's count until 2 is the hotter.
  for (int i = 0; i < 20000; ++i) l.on_access({0, 2});
  EXPECT_EQ(l.victim(), (page_ref{0, 1}));
  EXPECT_LT(l.count({0, 1}), l.count({0, 2}));
}

TEST(LfuEviction, KeepsHotPagesThatLruLetsGo) {
  // 10% of the pages get 70% of the references; the device holds a fifth of the pages.
  const auto refs = hot_cold(40, 360, 0.7, 40000);
  lfu_eviction l;
  lru_eviction r;
  const std::size_t lfu = faults(l, 80, refs), lru = faults(r, 80, refs);
  EXPECT_LT(lfu, lru * 9 / 10) << "lfu " << lfu << ", lru " << lru;
}

}  // namespace
}  // namespace uvm::detail
