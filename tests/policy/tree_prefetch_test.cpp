#include "host/policy/tree_prefetch.hpp"

#include "tests/policy/fake_block.hpp"

#include <uvm/error.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>

namespace uvm::detail {
namespace {

constexpr std::size_t kib = 1024;
constexpr std::size_t page_4k = 4 * kib;  // 512 pages per block, 16 per 64 KiB big page

std::unique_ptr<prefetch_policy> tree(double threshold = 0.51) {
  return make_prefetch_policy("tree", {.tree_threshold = threshold});
}

TEST(TreePrefetch, FirstFaultFillsItsBigPage) {
  auto p = tree();
  fake_range r;
  // Page 37 is in big page 2, pages [32, 48). Its pair [32, 64) is then 16/32 = 0.5 occupied,
  // not above 0.51: the walk stops.
  const page_list got = expand(*p, 37, r.block(0, 512, page_4k));
  EXPECT_EQ(got, pages_between(32, 48, {37}));
  EXPECT_EQ(got.size(), 15u);
  // Same inside the second block of the range (leaves aligned to the block's first page).
  EXPECT_EQ(expand(*p, 512 + 37, r.block(512, 512, page_4k)), pages_between(544, 560, {549}));
}

TEST(TreePrefetch, DenseSubtreeAddsTheSiblingBigPage) {
  auto p = tree();
  fake_range r;
  const block_state b = r.block(0, 512, page_4k);
  // Fault 1 at 37: big page [32, 48) moves; the migrator makes it resident.
  page_list got = expand(*p, 37, b);
  EXPECT_EQ(got, pages_between(32, 48, {37}));
  r.make_resident(32, 48);
  // Eviction takes half of it back: [32, 40) stays.
  for (std::size_t q = 40; q < 48; ++q) r.resident.erase(q);
  // Fault 2 at 56, big page [48, 64): 16 taken + 8 resident = 24/32 = 0.75 of the 128 KiB
  // pair [32, 64) > 0.51, so the sibling's missing [40, 48) comes too. Next level [0, 64):
  // 32/64 = 0.5, stop.
  got = expand(*p, 56, b);
  EXPECT_EQ(got, pages_between(40, 64, {56}));
}

TEST(TreePrefetch, OneResidentPageTipsThePair) {
  auto p = tree();
  fake_range r;
  r.resident = {50};  // big page [48, 64) has one page on the device
  // [32, 48) taken (16) + 1 resident = 17/32 = 0.53 > 0.51: the rest of [48, 64) comes.
  // [0, 64): 32/64 = 0.5, stop.
  EXPECT_EQ(expand(*p, 37, r.block(0, 512, page_4k)), pages_between(32, 64, {37, 50}));
}

TEST(TreePrefetch, FaultThatPushesTheBlockOverTheThresholdFillsIt) {
  auto p = tree();
  fake_range r;
  // Big pages 17..31 ([272, 512)) resident: 240 pages. A fault at 263 (big page 16) completes
  // the right half: every node on the way up to [256, 512) is full. The root then holds
  // 256 + (resident pages on the left) of 512; above 0.51 means at least 262 (261.12).
  r.make_resident(272, 512);
  r.make_resident(0, 5);  // 261/512 = 0.5098: stop below the root
  EXPECT_EQ(expand(*p, 263, r.block(0, 512, page_4k)), pages_between(256, 272, {263}));
  r.make_resident(5, 6);  // 262/512 = 0.5117: the whole block
  const page_list got = expand(*p, 263, r.block(0, 512, page_4k));
  page_list want = pages_between(6, 272, {263});
  EXPECT_EQ(got, want);
  EXPECT_EQ(got.size(), 512u - 240u - 6u - 1u);
}

TEST(TreePrefetch, ThrashingPagesAreNeitherTakenNorCounted) {
  auto p = tree();
  fake_range r;
  r.make_resident(272, 512);
  r.make_resident(0, 6);         // would tip the root (262/512) ...
  r.thrashing = {10, 100, 260};  // ... but 260 cannot come: 261/512, stop
  EXPECT_EQ(expand(*p, 263, r.block(0, 512, page_4k)), pages_between(256, 272, {260, 263}));
  r.make_resident(6, 7);  // 262/512 again: the block, without the thrashing pages
  EXPECT_EQ(expand(*p, 263, r.block(0, 512, page_4k)), pages_between(7, 272, {10, 100, 260, 263}));
}

TEST(TreePrefetch, ThresholdSetting) {
  fake_range r;
  // 0.5 is not above 0.5: only the big page.
  EXPECT_EQ(expand(*tree(0.5), 37, r.block(0, 512, page_4k)), pages_between(32, 48, {37}));
  // Below 0.5 every level of an empty block is half full after the previous one is filled:
  // the first fault takes the whole block.
  EXPECT_EQ(expand(*tree(0.49), 37, r.block(0, 512, page_4k)), pages_between(0, 512, {37}));
  EXPECT_THROW((void)tree(1.5), invalid_argument);
  EXPECT_THROW((void)tree(-0.1), invalid_argument);
  EXPECT_THROW((void)tree(std::nan("")), invalid_argument);
}

TEST(TreePrefetch, SixtyFourKibPagesAreTheirOwnLeaves) {
  auto p = tree();
  fake_range r;
  const std::size_t page_64k = 64 * kib;  // 32 pages per block
  // Alone, a fault takes nothing: its pair is 1/2 = 0.5.
  EXPECT_EQ(expand(*p, 5, r.block(0, 32, page_64k)), page_list{});
  // 4 and 6 resident: pair [4, 6) 2/2; [4, 8) 3/4 -> 7; [0, 8) 4/8 = 0.5, stop.
  r.resident = {4, 6};
  EXPECT_EQ(expand(*p, 5, r.block(0, 32, page_64k)), page_list{7});
  // 0 too: [0, 8) 5/8 -> 1, 2, 3; [0, 16) 8/16, stop.
  r.resident.insert(0);
  EXPECT_EQ(expand(*p, 5, r.block(0, 32, page_64k)), (page_list{1, 2, 3, 7}));
  // One 2 MiB page per block: nothing to add.
  EXPECT_EQ(expand(*p, 3, r.block(3, 1, 2048 * kib)), page_list{});
}

TEST(TreePrefetch, SixteenKibPagesHaveFourPageLeaves) {
  auto p = tree();
  fake_range r;
  // 128 pages per block, 4 per big page: a fault at 9 takes [8, 12).
  EXPECT_EQ(expand(*p, 9, r.block(0, 128, 16 * kib)), (page_list{8, 10, 11}));
  EXPECT_THROW((void)expand(*p, 9, r.block(0, 128, 3000)), invalid_argument);
  EXPECT_THROW((void)expand(*p, 9, r.block(0, 128, 0)), invalid_argument);
}

TEST(TreePrefetch, ShortLastBlockCountsOnlyItsPages) {
  auto p = tree();
  fake_range r;
  // Range of 612 pages: the last block is [512, 612), 100 pages, big pages of 16 at block
  // offsets 0, 16, ..., 80 and a partial one [96, 100); tree over 8 leaves, 7 present.
  const block_state b = r.block(512, 100, page_4k);
  // Fault at offset 98: takes its partial big page. Its pair [96, 128) has only [96, 100): 4/4,
  // full. [64, 128) has 36 pages: 4/36, stop.
  EXPECT_EQ(expand(*p, 610, b), (page_list{608, 609, 611}));
  // Big page [80, 96) resident: [64, 100) holds 16 + 4 = 20/36 = 0.56 > 0.51 (counting the 28
  // missing pages it would be 20/64), so [64, 80) comes. [0, 100): 36/100, stop.
  r.make_resident(512 + 80, 512 + 96);
  page_list want = pages_between(512 + 64, 512 + 80);
  for (std::size_t q : {608u, 609u, 611u}) want.push_back(q);
  EXPECT_EQ(expand(*p, 610, b), want);
}

TEST(TreePrefetch, ShortLastBlockFillsUpToItsEnd) {
  auto p = tree();
  fake_range r;
  const block_state b = r.block(512, 100, page_4k);
  r.make_resident(512, 512 + 30);  // offsets [0, 30)
  r.resident.insert(512 + 80);     // one page of big page [80, 96)
  // Fault at offset 70: [64, 80) taken; pair [64, 96) 17/32 -> [80, 96); [64, 100) 32/36 ->
  // [96, 100); root [0, 100) (30 + 36)/100 -> [30, 64). Nothing past offset 99.
  EXPECT_EQ(expand(*p, 512 + 70, b), pages_between(512 + 30, 612, {512 + 70, 512 + 80}));
}

// Invariants over many deterministic pseudo-random states.
TEST(TreePrefetch, OutputIsAscendingUniqueAndAllowed) {
  auto p = tree();
  std::uint64_t x = 0x9e3779b97f4a7c15ull;
  auto next = [&x] {  // xorshift64
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return x;
  };
  for (int round = 0; round < 500; ++round) {
    fake_range r;
    const std::size_t first = 512 * (next() % 4);
    const std::size_t count = round % 3 == 0 ? 1 + next() % 512 : 512;
    const unsigned density = next() % 100;
    for (std::size_t q = first; q < first + count; ++q) {
      if (next() % 100 < density) r.resident.insert(q);
      if (next() % 100 < 5) r.thrashing.insert(q);
    }
    const std::size_t faulting = first + next() % count;
    r.resident.erase(faulting);
    const page_list got = expand(*p, faulting, r.block(first, count, page_4k));
    ASSERT_TRUE(std::is_sorted(got.begin(), got.end())) << round;
    ASSERT_EQ(std::adjacent_find(got.begin(), got.end()), got.end()) << round;
    for (std::size_t q : got) {
      ASSERT_GE(q, first) << round;
      ASSERT_LT(q, first + count) << round;
      ASSERT_NE(q, faulting) << round;
      ASSERT_FALSE(r.resident.contains(q)) << round;
      ASSERT_FALSE(r.thrashing.contains(q)) << round;
    }
    // The faulting page's big page always comes (less what is resident or thrashing).
    const std::size_t lo = first + (faulting - first) / 16 * 16;
    for (std::size_t q = lo; q < std::min(lo + 16, first + count); ++q) {
      if (q == faulting || r.resident.contains(q) || r.thrashing.contains(q)) continue;
      ASSERT_TRUE(std::binary_search(got.begin(), got.end(), q)) << round << " page " << q;
    }
  }
}

}  // namespace
}  // namespace uvm::detail
