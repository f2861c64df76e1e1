#include "host/policy/adaptive_eviction.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

namespace uvm::detail {
namespace {

// Drives a policy like a device with `frames` frames over page numbers in one range and
// returns the number of faults.
std::size_t faults(eviction_policy& policy, std::size_t frames,
                   const std::vector<std::uint32_t>& refs) {
  std::size_t n = 0;
  std::vector<bool> resident(1024, false);
  std::size_t used = 0;
  for (std::uint32_t r : refs) {
    const page_ref p{0, r};
    if (resident[r]) {
      policy.on_access(p);
      continue;
    }
    ++n;
    if (used == frames) {
      const auto v = policy.victim();
      EXPECT_TRUE(v.has_value());
      resident[v->page] = false;
      policy.on_released(*v);
      --used;
    }
    resident[r] = true;
    policy.on_resident(p);
    ++used;
  }
  return n;
}

std::vector<std::uint32_t> loop(std::uint32_t pages, int passes) {
  std::vector<std::uint32_t> v;
  for (int k = 0; k < passes; ++k) {
    for (std::uint32_t p = 0; p < pages; ++p) v.push_back(p);
  }
  return v;
}

TEST(AdaptiveEviction, IsLruWithoutLoops) {
  // The textbook reference string: LRU takes 12 faults with 3 frames, and so does adaptive
  // (no evicted page comes back often enough to look like a loop).
  const std::vector<std::uint32_t> refs{7, 0, 1, 2, 0, 3, 0, 4, 2, 3, 0, 3, 2, 1, 2, 0, 1, 7, 0, 1};
  adaptive_eviction a;
  EXPECT_EQ(faults(a, 3, refs), 12u);
  EXPECT_FALSE(a.looping());
}

TEST(AdaptiveEviction, KeepsPartOfALoopLargerThanTheDevice) {
  // 150 pages cycled 40 times through 100 frames. LRU misses every access: 6000 faults. MIN
  // takes 150 + 39 * 50 = 2100. adaptive notices the returning pages and gets close to MIN.
  adaptive_eviction a;
  const std::size_t n = faults(a, 100, loop(150, 40));
  EXPECT_TRUE(a.looping());
  EXPECT_LE(n, 2100u + 100u);
  EXPECT_GE(n, 2100u);  // nothing beats MIN
}

TEST(AdaptiveEviction, VictimIsStableUntilSomethingChanges) {
  adaptive_eviction a;
  for (std::uint32_t p = 0; p < 4; ++p) a.on_resident({0, p});
  const auto v = a.victim();
  EXPECT_EQ(a.victim(), v);
  EXPECT_EQ(v->page, 0u);  // LRU while no loop was seen
  a.on_released(*v);
  EXPECT_EQ(a.victim()->page, 1u);
  EXPECT_EQ(a.size(), 3u);
  EXPECT_EQ(a.name(), "adaptive");
  EXPECT_EQ(make_eviction_policy("adaptive")->name(), "adaptive");
}

}  // namespace
}  // namespace uvm::detail
