#include "host/policy/dueling_eviction.hpp"

#include "host/policy/adaptive_eviction.hpp"
#include "host/policy/lfu_eviction.hpp"
#include "host/policy/lru_eviction.hpp"
#include "tests/policy/policy_driver.hpp"

#include <gtest/gtest.h>

namespace uvm::detail {
namespace {

using testing::faults;
using testing::hot_cold;
using testing::loop;

TEST(DuelingEviction, FollowsAdaptiveOnALoopTooBigForTheDevice) {
  // 150 pages cycled 40 times through 100 frames: LRU 6000 faults, MIN 2100.
  dueling_eviction d;
  const std::size_t n = faults(d, 100, loop(150, 40));
  EXPECT_EQ(d.leader(), "adaptive");
  EXPECT_LT(n, 2100u * 11 / 10);
}

TEST(DuelingEviction, FollowsLfuOnSkewedPopularity) {
  const auto refs = hot_cold(40, 360, 0.7, 40000);
  dueling_eviction d;
  lfu_eviction l;
  const std::size_t n = faults(d, 80, refs), lfu = faults(l, 80, refs);
  EXPECT_EQ(d.leader(), "lfu");
  EXPECT_LT(n, lfu * 11 / 10) << "dueling " << n << ", lfu " << lfu;
}

TEST(DuelingEviction, SwitchesWhenThePhaseChangesAndBeatsEveryCandidateAlone) {
  // A skewed phase (lfu's), then a loop too big for the device (adaptive's).
  const auto skewed = hot_cold(40, 360, 0.7, 40000);
  std::vector<std::uint32_t> cycled;
  for (std::uint32_t p : loop(150, 40)) cycled.push_back(1000 + p);
  auto refs = skewed;
  refs.insert(refs.end(), cycled.begin(), cycled.end());
  dueling_eviction d;
  const std::size_t n = faults(d, 100, refs);
  EXPECT_EQ(d.leader(), "adaptive");
  lru_eviction lru;
  lfu_eviction lfu;
  adaptive_eviction adaptive;
  for (eviction_policy* alone : std::initializer_list<eviction_policy*>{&lru, &lfu, &adaptive}) {
    EXPECT_LT(n, faults(*alone, 100, refs)) << alone->name() << " alone did better";
  }
  // Within a quarter of the best candidate of each phase, each on its own from a cold start.
  lfu_eviction first;
  adaptive_eviction second;
  const std::size_t best = faults(first, 100, skewed) + faults(second, 100, cycled);
  EXPECT_LT(n, best * 5 / 4) << "dueling " << n << ", best per phase " << best;
}

TEST(DuelingEviction, TracksOnlyResidentPages) {
  dueling_eviction d;
  EXPECT_EQ(d.victim(), std::nullopt);
  d.on_resident({0, 1});
  d.on_resident({0, 2});
  d.on_access({0, 9});  // not resident: ignored by every candidate
  EXPECT_EQ(d.size(), 2u);
  d.on_released({0, 1});
  d.on_released({0, 2});
  EXPECT_EQ(d.size(), 0u);
  EXPECT_EQ(d.victim(), std::nullopt);
}

}  // namespace
}  // namespace uvm::detail
