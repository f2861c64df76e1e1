// The frame pool: lowest-free order for take(), chosen frames and runs for launch residency.
#include "host/migration/frame_pool.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <optional>
#include <random>
#include <set>

namespace uvm::detail {
namespace {

TEST(FramePool, TakeReturnsTheLowestFreeFrameHoweverFramesCameBack) {
  frame_pool pool(5000);  // more than one summary word (4096 frames)
  EXPECT_EQ(pool.size(), 5000u);
  EXPECT_EQ(pool.free_count(), 5000u);
  for (std::uint32_t f = 0; f < 5000; ++f) ASSERT_EQ(pool.take(), f);
  EXPECT_EQ(pool.take(), std::nullopt);
  EXPECT_EQ(pool.free_count(), 0u);
  for (const std::uint32_t f : {4999u, 4100u, 70u, 4096u, 3u}) pool.give_back(f);
  EXPECT_EQ(pool.free_count(), 5u);
  for (const std::uint32_t f : {3u, 70u, 4096u, 4100u, 4999u}) ASSERT_EQ(pool.take(), f);
  EXPECT_EQ(pool.take(), std::nullopt);
}

TEST(FramePool, ChosenFramesAndRunsAreTakenAndTakeSkipsThem) {
  frame_pool pool(200);
  EXPECT_TRUE(pool.is_free(0));
  EXPECT_FALSE(pool.is_free(200)) << "outside the pool";
  pool.take_frame(0);
  pool.take_run(60, 10);  // across the first word boundary
  EXPECT_FALSE(pool.is_free(0));
  EXPECT_FALSE(pool.is_free(63));
  EXPECT_FALSE(pool.is_free(69));
  EXPECT_TRUE(pool.is_free(70));
  EXPECT_EQ(pool.free_count(), 189u);
  EXPECT_EQ(pool.free_in(0, 200), 189u);
  EXPECT_EQ(pool.free_in(55, 20), 10u);
  EXPECT_EQ(pool.free_in(190, 50), 10u) << "frames past the pool are not free";
  EXPECT_EQ(pool.take(), 1u);
  for (std::uint32_t f = 2; f < 60; ++f) ASSERT_EQ(pool.take(), f);
  EXPECT_EQ(pool.take(), 70u);
  pool.give_back(65);
  EXPECT_EQ(pool.take(), 65u);
}

TEST(FramePool, FindRunFindsTheLowestRunLongEnough) {
  frame_pool pool(300);
  EXPECT_EQ(pool.find_run(300), 0u);
  EXPECT_EQ(pool.find_run(301), std::nullopt);
  EXPECT_EQ(pool.find_run(0), 0u);
  pool.take_frame(10);
  pool.take_frame(100);
  pool.take_frame(200);
  EXPECT_EQ(pool.find_run(10), 0u);
  EXPECT_EQ(pool.find_run(11), 11u);
  EXPECT_EQ(pool.find_run(89), 11u);
  EXPECT_EQ(pool.find_run(90), 101u);
  EXPECT_EQ(pool.find_run(99), 101u);
  EXPECT_EQ(pool.find_run(100), std::nullopt) << "201..299 holds 99";
  pool.give_back(100);
  EXPECT_EQ(pool.find_run(189), 11u);
  EXPECT_EQ(pool.find_run(190), std::nullopt);
  pool.take_run(0, 10);
  pool.take_run(11, 189);
  EXPECT_EQ(pool.find_run(1), 201u);
  EXPECT_EQ(pool.find_run(99), 201u);
  pool.take_run(201, 99);
  EXPECT_EQ(pool.find_run(1), std::nullopt);
  EXPECT_EQ(pool.free_count(), 0u);
}

TEST(FramePool, AgreesWithASetUnderRandomUse) {
  constexpr std::uint32_t frames = 700;
  frame_pool pool(frames);
  std::set<std::uint32_t> free;
  for (std::uint32_t f = 0; f < frames; ++f) free.insert(f);
  std::mt19937 rng(42);
  const auto brute_run = [&](std::uint32_t n) -> std::optional<std::uint32_t> {
    std::uint32_t len = 0;
    for (std::uint32_t f = 0; f < frames; ++f) {
      len = free.contains(f) ? len + 1 : 0;
      if (len == n) return f + 1 - n;
    }
    return std::nullopt;
  };
  for (int step = 0; step < 20000; ++step) {
    const std::uint32_t f = rng() % frames;
    switch (rng() % 4) {
      case 0: {
        const std::optional<std::uint32_t> t = pool.take();
        if (free.empty()) {
          ASSERT_EQ(t, std::nullopt);
        } else {
          ASSERT_EQ(t, *free.begin());
          free.erase(free.begin());
        }
        break;
      }
      case 1:
        if (free.contains(f)) {
          pool.take_frame(f);
          free.erase(f);
        }
        break;
      default:
        if (!free.contains(f)) {
          pool.give_back(f);
          free.insert(f);
        }
        break;
    }
    ASSERT_EQ(pool.free_count(), free.size());
    ASSERT_EQ(pool.is_free(f), free.contains(f));
    if (step % 50 == 0) {
      const std::uint32_t n = 1 + rng() % 40;
      ASSERT_EQ(pool.find_run(n), brute_run(n)) << "step " << step << " run " << n;
      const std::uint32_t first = rng() % frames;
      std::uint32_t expect = 0;
      for (std::uint32_t g = first; g < first + n && g < frames; ++g) expect += free.contains(g);
      ASSERT_EQ(pool.free_in(first, n), expect);
    }
  }
}

TEST(FramePool, QuarantinedFramesComeBackOnceTheKernelsBeforeTheirFenceHaveEnded) {
  frame_pool pool(130);
  for (std::uint32_t f = 0; f < 130; ++f) ASSERT_EQ(pool.take(), f);
  pool.quarantine(3, 10);  // freed while kernels 0..9 may run
  pool.quarantine(100, 12);
  pool.give_back(7);  // freed with no kernel running
  EXPECT_EQ(pool.quarantined(), 2u);
  EXPECT_TRUE(pool.is_quarantined(3));
  EXPECT_FALSE(pool.is_free(3));
  EXPECT_EQ(pool.free_count(), 1u);
  EXPECT_EQ(pool.take(), 7u);
  EXPECT_EQ(pool.take(), std::nullopt) << "quarantined frames are not taken";
  EXPECT_EQ(pool.release_quarantined(9), 0u) << "kernel 9 still runs";
  EXPECT_EQ(pool.release_quarantined(11), 1u);
  EXPECT_TRUE(pool.is_free(3));
  EXPECT_FALSE(pool.is_free(100));
  EXPECT_EQ(pool.take(), 3u);
  EXPECT_EQ(pool.release_quarantined(std::uint64_t(-1)), 1u) << "no kernel in flight";
  EXPECT_EQ(pool.quarantined(), 0u);
  EXPECT_EQ(pool.take(), 100u);
  // The quarantine's room is reused: every frame quarantined, released, and again.
  for (int round = 0; round < 3; ++round) {
    for (std::uint32_t f = 0; f < 130; ++f) {
      if (!pool.is_free(f)) pool.quarantine(f, 20 + f);
    }
    EXPECT_EQ(pool.quarantined(), 130u);
    EXPECT_EQ(pool.release_quarantined(84), 65u);
    for (std::uint32_t f = 0; f < 65; ++f) ASSERT_EQ(pool.take(), f);
    EXPECT_EQ(pool.release_quarantined(std::uint64_t(-1)), 65u);
    for (std::uint32_t f = 65; f < 130; ++f) ASSERT_EQ(pool.take(), f);
  }
}

TEST(FramePool, EachQuarantinedFrameComesBackAtItsOwnFence) {
  // Fences follow the kernels that may have started at each free, which may be older at a later
  // free (two streams' chunks freed while each other's kernels run): a frame comes back once its
  // own fence has passed, not once the newest fence quarantined before it has. Frames used to
  // wait for the newest earlier fence, and a two-stream pipeline ran out of frames under load.
  frame_pool pool(4);
  for (std::uint32_t f = 0; f < 4; ++f) ASSERT_EQ(pool.take(), f);
  pool.quarantine(0, 11);
  pool.quarantine(1, 9);
  pool.quarantine(2, 10);
  EXPECT_EQ(pool.release_quarantined(8), 0u) << "kernel 8 still runs";
  EXPECT_EQ(pool.release_quarantined(9), 1u) << "frame 1's fence has passed, frame 0's has not";
  EXPECT_TRUE(pool.is_free(1));
  EXPECT_TRUE(pool.is_quarantined(0));
  EXPECT_EQ(pool.release_quarantined(10), 1u);
  EXPECT_TRUE(pool.is_free(2));
  EXPECT_EQ(pool.release_quarantined(11), 1u);
  EXPECT_EQ(pool.quarantined(), 0u);
}

}  // namespace
}  // namespace uvm::detail
