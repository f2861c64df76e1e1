// One device's residency (host/migration/device_residency.hpp): frames and their owners,
// quarantine, capacity misses, victims, promotion streaks and pins.
#include "host/migration/device_residency.hpp"

#include "host/backend/emulated/emulated_backend.hpp"

#include <uvm/error.hpp>

#include <gtest/gtest.h>

#include <cstdint>
#include <optional>
#include <vector>

namespace uvm::detail {
namespace {

constexpr std::size_t page = 64 << 10;

device_residency::settings frames(std::size_t n, std::string_view eviction = "fifo",
                                  bool promote = false) {
  return {.page_size = page,
          .budget_bytes = n * page,
          .eviction = eviction,
          .custom_eviction = {},
          .promote_remote = promote};
}

// Never asked: a frame was free.
std::uint64_t never_asked() {
  ADD_FAILURE() << "the oldest kernel was asked for while a frame was free";
  return 0;
}

TEST(DeviceResidency, FramesAreTakenLowestFirstWithTheirOwnersAndUntakenFramesComeBack) {
  emulated_backend dev;
  device_residency d(dev, frames(3));
  EXPECT_EQ(d.frame_count(), 3u);
  EXPECT_EQ(d.frame_address(2), d.frames() + 2 * page);
  for (std::uint32_t i = 0; i < 3; ++i) {
    const std::optional<std::uint32_t> f = d.take({7, 10 + i}, never_asked);
    ASSERT_EQ(f, i);
    EXPECT_EQ(d.owner(*f), (page_ref{7, 10 + i}));
  }
  EXPECT_EQ(d.free_count(), 0u);
  EXPECT_EQ(d.take({7, 20}, [] { return device_residency::no_fence; }), std::nullopt);
  d.untake(1);
  EXPECT_TRUE(d.is_free(1));
  EXPECT_EQ(d.take({7, 20}, never_asked), 1u);
  EXPECT_EQ(d.owner(1), (page_ref{7, 20}));
}

TEST(DeviceResidency, AFrameFreedUnderAFenceIsTakenOnlyOnceEveryKernelBeforeItEnded) {
  emulated_backend dev;
  device_residency d(dev, frames(2));
  ASSERT_EQ(d.take({1, 0}, never_asked), 0u);
  ASSERT_EQ(d.take({1, 1}, never_asked), 1u);
  d.arrived({1, 0});
  EXPECT_FALSE(d.left(0, {1, 0}, /*fence=*/5));  // kernels with tickets below 5 may cache it
  EXPECT_EQ(d.quarantined(), 1u);
  EXPECT_FALSE(d.is_free(0));
  EXPECT_EQ(d.take({1, 2}, [] { return std::uint64_t{4}; }), std::nullopt)
      << "kernel 4 was still running";
  EXPECT_EQ(d.take({1, 2}, [] { return std::uint64_t{5}; }), 0u);
  EXPECT_EQ(d.quarantined(), 0u);
  EXPECT_FALSE(d.left(1, {1, 1}, device_residency::no_fence));
  EXPECT_TRUE(d.is_free(1)) << "no fence: free at once";
}

TEST(DeviceResidency, AnEvictedPageLeavesAndComesBackAsACapacityMissOnce) {
  emulated_backend dev;
  device_residency d(dev, frames(1));
  const page_ref p{3, 9};
  ASSERT_EQ(d.take(p, never_asked), 0u);
  EXPECT_FALSE(d.arrived(p)) << "a first arrival is not a return";
  EXPECT_EQ(d.victim(false), p);
  d.evicting(p);
  EXPECT_EQ(d.victim(false), std::nullopt) << "an evicted page was offered again";
  EXPECT_TRUE(d.left(0, p, device_residency::no_fence)) << "an eviction is a capacity miss";
  ASSERT_EQ(d.take(p, never_asked), 0u);
  EXPECT_TRUE(d.arrived(p)) << "the evicted page came back";
  EXPECT_FALSE(d.left(0, p, device_residency::no_fence)) << "a move to the host is a side change";
  ASSERT_EQ(d.take(p, never_asked), 0u);
  EXPECT_FALSE(d.arrived(p)) << "a capacity miss counts once";
}

TEST(DeviceResidency, PromotionTakesNoVictimThatTheLastEpochUsed) {
  emulated_backend dev;
  device_residency d(dev, frames(2, "fifo", /*promote=*/true));
  const page_ref a{1, 0};
  const page_ref b{1, 1};
  ASSERT_EQ(d.take(a, never_asked), 0u);
  ASSERT_EQ(d.take(b, never_asked), 1u);
  d.arrived(a);
  d.arrived(b);
  d.begin_harvest();
  d.used(a, /*remote=*/false);
  EXPECT_EQ(d.victim(true), std::nullopt) << "fifo's victim, a, was used in the last epoch";
  EXPECT_EQ(d.victim(false), a);
  d.begin_harvest();  // nothing used in this one
  EXPECT_EQ(d.victim(true), a);
}

TEST(DeviceResidency, ARemotePageUsedInThreeHarvestsInARowIsHotAndTakenInPageOrder) {
  emulated_backend dev;
  device_residency d(dev, frames(4, "lru", /*promote=*/true));
  const page_ref gap{2, 5};
  const std::vector<page_ref> steady{{2, 8}, {2, 3}, {1, 4}};
  for (int h = 0; h < 3; ++h) {
    d.begin_harvest();
    EXPECT_FALSE(d.has_hot()) << "hot after " << h << " harvests";
    for (const page_ref& p : steady) d.used(p, /*remote=*/true);
    if (h != 1) d.used(gap, true);  // missed the second harvest: its streak starts again
  }
  ASSERT_TRUE(d.has_hot());
  EXPECT_EQ(d.take_hot(2), (std::vector<page_ref>{{1, 4}, {2, 3}})) << "capped, in page order";
  EXPECT_EQ(d.take_hot(8), (std::vector<page_ref>{{2, 8}})) << "the rest waits for next time";
  EXPECT_FALSE(d.has_hot());
  d.begin_harvest();
  d.used(gap, true);  // its second harvest in a row
  EXPECT_FALSE(d.has_hot());
  d.begin_harvest();
  d.used(gap, true);  // its third
  EXPECT_EQ(d.take_hot(8), (std::vector<page_ref>{gap}));
}

TEST(DeviceResidency, WithoutPromotionRemoteUsesAreNotCounted) {
  emulated_backend dev;
  device_residency d(dev, frames(4, "lru", /*promote=*/false));
  for (int h = 0; h < 4; ++h) {
    d.begin_harvest();
    d.used({1, 1}, /*remote=*/true);
  }
  EXPECT_FALSE(d.has_hot());
}

TEST(DeviceResidency, ForgettingARangeDropsItsEvictionsAndStreaks) {
  emulated_backend dev;
  device_residency d(dev, frames(2, "fifo", /*promote=*/true));
  const page_ref p{4, 1};
  ASSERT_EQ(d.take(p, never_asked), 0u);
  d.arrived(p);
  d.evicting(p);
  EXPECT_TRUE(d.left(0, p, device_residency::no_fence));
  for (int h = 0; h < 2; ++h) {
    d.begin_harvest();
    d.used({4, 2}, /*remote=*/true);
  }
  d.forget(4);
  ASSERT_EQ(d.take(p, never_asked), 0u);
  EXPECT_FALSE(d.arrived(p)) << "the range's eviction outlived it";
  d.begin_harvest();
  d.used({4, 2}, true);
  EXPECT_FALSE(d.has_hot()) << "the range's streak outlived it";
}

TEST(DeviceResidency, AnUnknownPolicyIsRefusedWithTheNames) {
  emulated_backend dev;
  EXPECT_THROW({ device_residency d(dev, frames(1, "belady")); }, uvm::invalid_argument);
}

}  // namespace
}  // namespace uvm::detail
