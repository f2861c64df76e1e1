#include "host/policy/eviction_policy.hpp"

#include <uvm/error.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

namespace uvm::detail {
namespace {

page_ref pg(std::uint32_t page, std::uint32_t range = 0) {
  return page_ref{range, page};
}

// Drives `policy` like a cache of `capacity` frames over the references `refs` (pages of range
// 0): a hit is on_access; a miss on a full cache evicts victim() (then on_released), and the
// missing page becomes resident. @return the evicted pages, in order.
std::vector<std::uint32_t> simulate(eviction_policy& policy, std::size_t capacity,
                                    const std::vector<std::uint32_t>& refs) {
  std::vector<std::uint32_t> resident;
  std::vector<std::uint32_t> evicted;
  for (std::uint32_t r : refs) {
    if (std::find(resident.begin(), resident.end(), r) != resident.end()) {
      policy.on_access(pg(r));
      continue;
    }
    if (resident.size() == capacity) {
      const auto v = policy.victim();
      EXPECT_TRUE(v.has_value());
      if (!v) return evicted;
      EXPECT_EQ(v->range_id, 0u);
      std::erase(resident, v->page);
      policy.on_released(*v);
      evicted.push_back(v->page);
    }
    policy.on_resident(pg(r));
    resident.push_back(r);
    EXPECT_EQ(policy.size(), resident.size());
  }
  return evicted;
}

using pages = std::vector<std::uint32_t>;

// Silberschatz's reference string, 3 frames: FIFO takes 15 faults, LRU 12.
const pages textbook = {7, 0, 1, 2, 0, 3, 0, 4, 2, 3, 0, 3, 2, 1, 2, 0, 1, 7, 0, 1};

TEST(FifoEviction, TextbookSequence) {
  auto p = make_eviction_policy("fifo");
  EXPECT_EQ(p->name(), "fifo");
  // Queue, oldest first:
  // 7 0 1 | 2: evict 7 -> 0 1 2 | 0 hit | 3: evict 0 -> 1 2 3 | 0: evict 1 -> 2 3 0
  // 4: evict 2 -> 3 0 4 | 2: evict 3 -> 0 4 2 | 3: evict 0 -> 4 2 3 | 0: evict 4 -> 2 3 0
  // 3, 2 hits | 1: evict 2 -> 3 0 1 | 2: evict 3 -> 0 1 2 | 0, 1 hits | 7: evict 0 -> 1 2 7
  // 0: evict 1 -> 2 7 0 | 1: evict 2 -> 7 0 1.  12 evictions + 3 cold misses = 15 faults.
  EXPECT_EQ(simulate(*p, 3, textbook), (pages{7, 0, 1, 2, 3, 0, 4, 2, 3, 0, 1, 2}));
}

TEST(LruEviction, TextbookSequence) {
  auto p = make_eviction_policy("lru");
  EXPECT_EQ(p->name(), "lru");
  // Recency, least recent first:
  // 7 0 1 | 2: evict 7 -> 0 1 2 | 0 hit -> 1 2 0 | 3: evict 1 -> 2 0 3 | 0 hit -> 2 3 0
  // 4: evict 2 -> 3 0 4 | 2: evict 3 -> 0 4 2 | 3: evict 0 -> 4 2 3 | 0: evict 4 -> 2 3 0
  // 3 hit -> 2 0 3 | 2 hit -> 0 3 2 | 1: evict 0 -> 3 2 1 | 2 hit -> 3 1 2 | 0: evict 3 -> 1 2 0
  // 1 hit -> 2 0 1 | 7: evict 2 -> 0 1 7 | 0, 1 hits.  9 evictions + 3 = 12 faults.
  EXPECT_EQ(simulate(*p, 3, textbook), (pages{7, 1, 2, 3, 0, 4, 0, 3, 2}));
}

TEST(ClockEviction, TextbookSequence) {
  auto p = make_eviction_policy("clock");
  EXPECT_EQ(p->name(), "clock");
  // Circle from the hand, * = reference bit set. New pages go just behind the hand, bit set.
  // 7: miss     -> 7*
  // 0: miss     -> 7* 0*
  // 1: miss     -> 7* 0* 1*
  // 2: evict 7  -> 0 1 2*      (sweep clears 7, 0, 1, comes back to 7)
  // 0: hit      -> 0* 1 2*
  // 3: evict 1  -> 2* 0 3*     (0 gets its second chance)
  // 0: hit      -> 2* 0* 3*
  // 4: evict 2  -> 0 3 4*      (full turn: 2, 0, 3 cleared, back to 2)
  // 2: evict 0  -> 3 4* 2*
  // 3: hit      -> 3* 4* 2*
  // 0: evict 3  -> 4 2 0*
  // 3: evict 4  -> 2 0* 3*
  // 2: hit      -> 2* 0* 3*
  // 1: evict 2  -> 0 3 1*
  // 2: evict 0  -> 3 1* 2*
  // 0: evict 3  -> 1* 2* 0*
  // 1: hit      -> 1* 2* 0*
  // 7: evict 1  -> 2 0 7*
  // 0: hit      -> 2 0* 7*
  // 1: evict 2  -> 0* 7* 1*
  EXPECT_EQ(simulate(*p, 3, textbook), (pages{7, 1, 2, 0, 3, 4, 2, 0, 3, 1, 2}));
}

// One access after the first eviction separates the three: 1 2 3 4 2 5 6, 3 frames.
const pages second_chance = {1, 2, 3, 4, 2, 5, 6};

TEST(EvictionPolicies, FifoIgnoresTheAccessLruAndClockDoNot) {
  // fifo: 4 evicts 1 -> 2 3 4 | 2 hit, no effect | 5 evicts 2 -> 3 4 5 | 6 evicts 3.
  auto fifo = make_eviction_policy("fifo");
  EXPECT_EQ(simulate(*fifo, 3, second_chance), (pages{1, 2, 3}));
  // lru: 4 evicts 1 -> 2 3 4 | 2 hit -> 3 4 2 | 5 evicts 3 -> 4 2 5 | 6 evicts 4.
  auto lru = make_eviction_policy("lru");
  EXPECT_EQ(simulate(*lru, 3, second_chance), (pages{1, 3, 4}));
  // clock: 4: sweep clears 1 2 3, evicts 1 -> 2 3 4* | 2 hit -> 2* 3 4* | 5: 2 cleared,
  // evicts 3 -> 4* 5* 2 | 6: 4 and 5 cleared, evicts 2 (its bit was spent on the 5 sweep).
  auto clock = make_eviction_policy("clock");
  EXPECT_EQ(simulate(*clock, 3, second_chance), (pages{1, 3, 2}));
}

TEST(EvictionPolicies, SmallTextbookLruBeatsFifo) {
  // 1 2 3 1 4 1 5 2, 3 frames. fifo evicts the hot page 1: 4 evicts 1 -> 2 3 4 | 1 evicts 2
  // -> 3 4 1 | 5 evicts 3 -> 4 1 5 | 2 evicts 4.  lru keeps it: 1 hit -> 2 3 1 | 4 evicts 2
  // -> 3 1 4 | 1 hit -> 3 4 1 | 5 evicts 3 -> 4 1 5 | 2 evicts 4.
  const pages refs = {1, 2, 3, 1, 4, 1, 5, 2};
  auto fifo = make_eviction_policy("fifo");
  auto lru = make_eviction_policy("lru");
  EXPECT_EQ(simulate(*fifo, 3, refs), (pages{1, 2, 3, 4}));
  EXPECT_EQ(simulate(*lru, 3, refs), (pages{2, 3, 4}));
}

TEST(ClockEviction, SecondChanceAndRepeatedVictim) {
  auto p = make_eviction_policy("clock");
  for (std::uint32_t i : {1u, 2u, 3u}) p->on_resident(pg(i));
  // All bits set: the sweep clears them all and comes back to the oldest.
  EXPECT_EQ(p->victim(), pg(1));
  // Without on_released the hand stays on the victim: same answer, nothing forgotten.
  EXPECT_EQ(p->victim(), pg(1));
  EXPECT_EQ(p->size(), 3u);
  // Accessing the victim gives it a second chance: the hand moves on to 2 (bit clear).
  p->on_access(pg(1));
  EXPECT_EQ(p->victim(), pg(2));
  p->on_released(pg(2));
  EXPECT_EQ(p->size(), 2u);
  // The hand moved on to 3, whose bit is clear.
  EXPECT_EQ(p->victim(), pg(3));
  p->on_released(pg(3));
  // Only 1 is left; the sweep that chose 2 spent its second chance, so it goes now.
  EXPECT_EQ(p->victim(), pg(1));
  p->on_released(pg(1));
  EXPECT_EQ(p->victim(), std::nullopt);
  EXPECT_EQ(p->size(), 0u);
  // Usable again after emptying.
  p->on_resident(pg(9));
  EXPECT_EQ(p->victim(), pg(9));
}

TEST(ClockEviction, ReleasingPagesAwayFromTheHand) {
  auto p = make_eviction_policy("clock");
  for (std::uint32_t i : {1u, 2u, 3u, 4u}) p->on_resident(pg(i));
  EXPECT_EQ(p->victim(), pg(1));  // all bits now clear, hand on 1
  p->on_released(pg(3));          // not under the hand
  p->on_resident(pg(5));          // behind the hand: 1 2 4 5*
  p->on_released(pg(1));          // hand -> 2
  EXPECT_EQ(p->victim(), pg(2));
  p->on_released(pg(2));
  EXPECT_EQ(p->victim(), pg(4));
  p->on_released(pg(4));
  EXPECT_EQ(p->victim(), pg(5));
  EXPECT_EQ(p->size(), 1u);
}

class EachEvictionPolicy : public testing::TestWithParam<std::string> {};

TEST_P(EachEvictionPolicy, EmptyAndUnknownPages) {
  auto p = make_eviction_policy(GetParam());
  EXPECT_EQ(p->name(), GetParam());
  EXPECT_EQ(p->victim(), std::nullopt);
  EXPECT_EQ(p->size(), 0u);
  p->on_released(pg(4));  // unknown: no-op
  p->on_access(pg(4));    // not resident: ignored, does not become tracked
  EXPECT_EQ(p->size(), 0u);
  EXPECT_EQ(p->victim(), std::nullopt);
  p->on_resident(pg(4));
  p->on_released(pg(5));
  p->on_released(pg(4, 1));  // same page number, other range: a different page
  EXPECT_EQ(p->size(), 1u);
  EXPECT_EQ(p->victim(), pg(4));
  p->on_released(pg(4));
  p->on_released(pg(4));  // twice: the second is a no-op
  EXPECT_EQ(p->size(), 0u);
  EXPECT_EQ(p->victim(), std::nullopt);
}

TEST_P(EachEvictionPolicy, VictimIsStableUntilReleased) {
  auto p = make_eviction_policy(GetParam());
  p->on_resident(pg(1, 2));
  p->on_resident(pg(1, 3));
  p->on_resident(pg(2, 2));
  const auto v = p->victim();
  ASSERT_TRUE(v.has_value());
  EXPECT_EQ(*v, pg(1, 2));
  EXPECT_EQ(p->victim(), v);
  EXPECT_EQ(p->size(), 3u);
  p->on_released(*v);
  EXPECT_EQ(p->victim(), pg(1, 3));
  EXPECT_EQ(p->size(), 2u);
}

INSTANTIATE_TEST_SUITE_P(Policies, EachEvictionPolicy,
                         testing::Values("fifo", "lru", "clock", "adaptive", "lfu", "dueling",
                                         "arc", "lirs"),
                         [](const auto& info) { return info.param; });

TEST(EvictionPolicies, RepeatedOnResidentIsAnAccess) {
  // Resident: 1 2 3, then on_resident(1) again.
  // fifo: accesses do not count, 1 stays oldest. lru: 1 becomes most recent, 2 is next.
  // clock: all bits set either way, the sweep comes back to 1.
  auto fifo = make_eviction_policy("fifo");
  auto lru = make_eviction_policy("lru");
  auto clock = make_eviction_policy("clock");
  for (auto* p : {fifo.get(), lru.get(), clock.get()}) {
    for (std::uint32_t i : {1u, 2u, 3u, 1u}) p->on_resident(pg(i));
    EXPECT_EQ(p->size(), 3u) << p->name();
  }
  EXPECT_EQ(fifo->victim(), pg(1));
  EXPECT_EQ(lru->victim(), pg(2));
  EXPECT_EQ(clock->victim(), pg(1));
  // clock: now every bit is clear; a repeated on_resident(1) sets 1's bit like an access.
  clock->on_resident(pg(1));
  EXPECT_EQ(clock->victim(), pg(2));
  EXPECT_EQ(clock->size(), 3u);
}

TEST(EvictionPolicies, UnknownNameListsTheValidOnes) {
  try {
    (void)make_eviction_policy("mru");
    FAIL() << "expected uvm::invalid_argument";
  } catch (const invalid_argument& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("mru"), std::string::npos) << what;
    EXPECT_NE(what.find("arc, lirs"), std::string::npos) << what;
    EXPECT_NE(what.find("fifo, lru, clock"), std::string::npos) << what;
  }
  EXPECT_THROW((void)make_eviction_policy(""), invalid_argument);
  EXPECT_THROW((void)make_eviction_policy("LRU"), invalid_argument);
}

}  // namespace
}  // namespace uvm::detail
