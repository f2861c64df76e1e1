#include "bench/replay/generator.hpp"

#include "bench/replay/simulator.hpp"
#include "bench/replay/trace_io.hpp"

#include <uvm/error.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <set>
#include <string>
#include <vector>

namespace uvm::replay {
namespace {

// A trace cut into its kernels: the device accesses after each epoch record.
struct kernel_uses {
  std::vector<std::uint32_t> pages;
  std::set<std::uint32_t> writes;
};
std::vector<kernel_uses> kernels_of(const trace& t) {
  std::vector<kernel_uses> k;
  for (const trace_record& r : t.records) {
    if (r.kind == trace_kind::epoch) k.emplace_back();
    if (r.kind != trace_kind::device_access) continue;
    EXPECT_FALSE(k.empty()) << "an access before the first kernel";
    if (k.empty()) k.emplace_back();
    k.back().pages.push_back(r.page);
    if (r.access != 0) k.back().writes.insert(r.page);
  }
  return k;
}

trace make(pattern p, std::uint32_t pages, std::uint32_t passes, std::uint64_t seed = 1) {
  gen_options g;
  g.kind = p;
  g.pages = pages;
  g.passes = passes;
  g.seed = seed;
  return generate(g);
}

// --devices: epoch k's kernel and its accesses run on device k mod N, and the replay of such a
// trace moves each pass's pages from the previous pass's device.
TEST(Generator, KernelsTakeTurnsOnTheDevicesAndTheReplayMovesPagesBetweenThem) {
  gen_options o;
  o.kind = pattern::sequential;
  o.pages = 64;
  o.passes = 4;
  o.devices = 2;
  const trace t = generate(o);
  EXPECT_EQ(device_count(t), 2u);
  std::uint16_t device = 0;
  std::uint32_t epochs = 0;
  for (const trace_record& r : t.records) {
    if (r.kind == trace_kind::epoch) {
      EXPECT_EQ(r.device, epochs++ % 2);
      device = r.device;
    }
    if (r.kind == trace_kind::device_access) ASSERT_EQ(r.device, device);
  }
  sim_options so;
  so.budget_pages = 64;
  so.eviction = "lru";
  const sim_result r = simulate(t, so);
  EXPECT_EQ(r.migrations_h2d, 64u);
  EXPECT_EQ(r.migrations_d2d, 3u * 64u) << "each later pass takes every page from the other";
  o.devices = 9;
  EXPECT_THROW((void)generate(o), uvm::invalid_argument);
}

TEST(Algorithms, EveryKernelListsItsPagesOnceInPageOrderInsideTheRange) {
  for (const pattern p :
       {pattern::stencil, pattern::pagerank, pattern::btree, pattern::merge_sort,
        pattern::hash_probe, pattern::fft2d, pattern::phase_change, pattern::kv_cache,
        pattern::grid_bfs, pattern::uneven_phases, pattern::drifting_loop, pattern::shifting_zipf,
        pattern::stencil_lookup}) {
    const trace t = make(p, 1024, 3);
    ASSERT_EQ(t.records.front().kind, trace_kind::range) << pattern_name(p);
    EXPECT_EQ(t.records.front().value, 1024u);
    const auto kernels = kernels_of(t);
    ASSERT_FALSE(kernels.empty()) << pattern_name(p);
    for (const kernel_uses& k : kernels) {
      ASSERT_FALSE(k.pages.empty()) << pattern_name(p);
      for (std::size_t i = 1; i < k.pages.size(); ++i) {
        ASSERT_LT(k.pages[i - 1], k.pages[i]) << pattern_name(p) << ": not once, in order";
      }
      EXPECT_LT(k.pages.back(), 1024u) << pattern_name(p);
    }
    EXPECT_NO_THROW(validate_trace(t, std::string(pattern_name(p))));
  }
}

TEST(Algorithms, StencilReadsNeighbourPlanesAndWritesTheOtherGrid) {
  // 1024 pages: two grids of 512, planes of 8 pages, 8 kernels of 8 planes a step.
  const auto k = kernels_of(make(pattern::stencil, 1024, 2));
  ASSERT_EQ(k.size(), 16u);
  // Step 0, kernel 1: reads source planes 7..16 (pages 56..135), writes planes 8..15 of the
  // other grid (pages 512 + 64 .. 512 + 127).
  EXPECT_EQ(k[1].pages.front(), 56u);
  EXPECT_EQ(k[1].pages.size(), 80u + 64u);
  EXPECT_EQ(k[1].writes.size(), 64u);
  EXPECT_EQ(*k[1].writes.begin(), 576u);
  // Step 1 runs the other way: it writes the first grid.
  EXPECT_EQ(*k[9].writes.begin(), 64u);
  EXPECT_LT(*k[9].writes.rbegin(), 512u);
}

TEST(Algorithms, PagerankReadsHubsInEveryKernelAndWritesItsOwnBlock) {
  // 4096 pages: 256 rank pages; 16 kernels an iteration.
  const auto k = kernels_of(make(pattern::pagerank, 4096, 2));
  ASSERT_EQ(k.size(), 32u);
  std::vector<int> kernels_using(4096, 0);
  for (std::size_t i = 0; i < k.size(); ++i) {
    // Its 16 pages of next ranks: the second rank array, then the first.
    EXPECT_EQ(k[i].writes.size(), 16u);
    EXPECT_EQ(*k[i].writes.begin(), (i < 16 ? 15 : 14) * 256 + 16 * (i % 16));
    if (i < 16) {
      for (std::uint32_t p : k[i].pages) ++kernels_using[p];
    }
  }
  // Power law: in the first iteration the most popular rank page is read by every kernel, and
  // some are read by few.
  int most = 0, fewest = 99;
  for (std::uint32_t p = 14 * 256; p < 15 * 256; ++p) {
    most = std::max(most, kernels_using[p]);
    fewest = std::min(fewest, kernels_using[p]);
  }
  EXPECT_EQ(most, 16);
  EXPECT_LT(fewest, 8);
  EXPECT_THROW((void)make(pattern::pagerank, 255, 1), uvm::invalid_argument);
}

TEST(Algorithms, BtreeLookupsReadTheRootInEveryKernelAndSkewedLeaves) {
  const auto k = kernels_of(make(pattern::btree, 4096, 1));
  ASSERT_EQ(k.size(), 16u);  // 4096 / 256 lookups
  for (const kernel_uses& x : k) {
    EXPECT_EQ(x.pages.front(), 0u);  // the root
    EXPECT_TRUE(x.writes.empty());
    EXPECT_LT(x.pages.size(), 256u + 64u);  // popular leaves repeat within a batch
  }
}

TEST(Algorithms, MergeSortPassesDoubleTheirRunsBetweenTheArrays) {
  // 32 pages: arrays of 16; passes with runs of 1, 2, 4, 8: 8 + 4 + 2 + 1 kernels a sort.
  const auto k = kernels_of(make(pattern::merge_sort, 32, 2));
  ASSERT_EQ(k.size(), 30u);
  EXPECT_EQ(k[0].pages, (std::vector<std::uint32_t>{0, 1, 16, 17}));
  EXPECT_EQ(k[0].writes, (std::set<std::uint32_t>{16, 17}));
  EXPECT_EQ(k[8].writes, (std::set<std::uint32_t>{0, 1, 2, 3}));  // second pass writes back
  EXPECT_EQ(k[14].pages.size(), 32u);                             // the last merge: everything
}

TEST(Algorithms, HeldOutPatternsUseTheirWholeFootprint) {
  for (const pattern p : {pattern::hash_probe, pattern::fft2d, pattern::phase_change,
                          pattern::kv_cache, pattern::grid_bfs, pattern::drifting_loop}) {
    // (uneven_phases draws from all its pages with Zipf popularity: not all in two passes.)
    std::vector<bool> used(4096);
    for (const kernel_uses& k : kernels_of(make(p, 4096, 2))) {
      for (const std::uint32_t page : k.pages) used[page] = true;
    }
    const auto n = std::count(used.begin(), used.end(), true);
    EXPECT_GT(n, 4096 * 9 / 10) << pattern_name(p) << " leaves pages it owns unused";
    EXPECT_EQ(parse_pattern(pattern_name(p)), p);
  }
  EXPECT_THROW((void)make(pattern::kv_cache, 256, 1), uvm::invalid_argument);
}

TEST(Algorithms, KvCacheRereadsEveryLayersWeightsEachStepAndGrowsItsCache) {
  // 4096 pages: 16 layers of 64 weight pages, then 48 pages per layer and sequence.
  const auto k = kernels_of(make(pattern::kv_cache, 4096, 1));
  ASSERT_EQ(k.size(), 16u * 16u);
  for (std::uint32_t page = 0; page < 64; ++page) EXPECT_EQ(k[0].pages[page], page);
  EXPECT_EQ(k[16].pages[0], 0u) << "the next step reads layer 0's weights again";
  EXPECT_EQ(k[16].pages.size(), k[0].pages.size() + 4) << "one more page per sequence";
}

TEST(Algorithms, DriftingLoopGrowsToTheFootprintAndShrinksBack) {
  // 1024 pages: sweeps over 256, 384, ..., 1024, ..., 384 pages, 4 kernels each.
  const auto k = kernels_of(make(pattern::drifting_loop, 1024, 1));
  ASSERT_EQ(k.size(), 12u * 4u);
  EXPECT_EQ(k[3].pages.back(), 255u);
  EXPECT_EQ(k[7].pages.back(), 383u);
  EXPECT_EQ(k[27].pages.back(), 1023u) << "the seventh sweep covers everything";
  EXPECT_EQ(k[47].pages.back(), 383u);
}

TEST(Algorithms, AreDeterministicAndFollowTheSeed) {
  for (const pattern p : {pattern::pagerank, pattern::btree, pattern::hash_probe,
                          pattern::phase_change, pattern::grid_bfs}) {
    EXPECT_EQ(serialize_trace(make(p, 2048, 2, 7)), serialize_trace(make(p, 2048, 2, 7)));
    EXPECT_NE(serialize_trace(make(p, 2048, 2, 7)), serialize_trace(make(p, 2048, 2, 8)));
  }
  EXPECT_EQ(parse_pattern("merge-sort"), pattern::merge_sort);
  EXPECT_EQ(parse_pattern("pagerank"), pattern::pagerank);
  EXPECT_THROW((void)make(pattern::stencil, 1, 1), uvm::invalid_argument);
}

}  // namespace
}  // namespace uvm::replay
