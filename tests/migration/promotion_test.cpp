// Promotion of remote pages between kernels (host/migration/promotion.cpp), on the emulated
// device: a page kernels keep using remotely moves into the frame of a page the last kernel did
// not use; a loop that uses every resident page keeps them; promotion is off by default.
#include "tests/migration/emulated_config.hpp"

#include <uvm/uvm.hpp>

#include <gtest/gtest.h>

#include <cstdint>

namespace {

using uvm::testing::emulated;

constexpr std::size_t page = 4096, per_page = page / 4, frames = 32;

uvm::config promoting(bool on) {
  uvm::config c = emulated(page, frames * page);
  c.promote_remote = on;
  return c;
}

// Kernel 0 fills every frame with `a`; kernels 1..rounds add 1 to each page of `b` (remote: no
// frame is free), and to `a` too if `use_a`. @return the stats after the last kernel.
uvm::stats run(uvm::manager& mgr, std::size_t rounds, bool use_a, std::uint32_t& b0) {
  auto a = mgr.allocate<std::uint32_t>(frames * per_page);
  auto b = mgr.allocate<std::uint32_t>(2 * per_page);
  auto av = a.view();
  auto bv = b.view();
  mgr.parallel_for(frames, [=](std::size_t p) { av.store(p * per_page, 1); });
  mgr.synchronize();
  for (std::size_t k = 0; k < rounds; ++k) {
    mgr.parallel_for(2 + (use_a ? frames : 0), [=](std::size_t i) {
      if (i < 2) {
        bv.store(i * per_page, bv.load(i * per_page) + 1);
      } else {
        av.store((i - 2) * per_page, av.load((i - 2) * per_page) + 1);
      }
    });
    mgr.synchronize();
  }
  const uvm::stats s = mgr.stats();
  b0 = b[0] + b[per_page];  // the CPU reads both pages back: every increment landed
  for (std::size_t p = 0; p < frames; ++p) {
    EXPECT_EQ(a[p * per_page], 1u + (use_a ? rounds : 0)) << "page " << p << " of a";
  }
  return s;
}

TEST(Promotion, RemotePagesUsedThreeEpochsInARowTakeTheFramesOfUnusedPages) {
  uvm::manager mgr(promoting(true));
  std::uint32_t b = 0;
  const uvm::stats s = run(mgr, 5, false, b);
  EXPECT_EQ(b, 10u);
  EXPECT_EQ(s.remote_mappings, 2u) << "b's pages were to run remote first";
  // Used in kernels 1, 2 and 3: promoted before kernel 4, two of a's pages evicted for them.
  EXPECT_EQ(s.promoted_pages, 2u);
  EXPECT_EQ(s.evictions, 2u);
}

TEST(Promotion, ALoopThatUsesEveryResidentPageKeepsThem) {
  uvm::manager mgr(promoting(true));
  std::uint32_t b = 0;
  const uvm::stats s = run(mgr, 6, true, b);
  EXPECT_EQ(b, 12u);
  EXPECT_EQ(s.promoted_pages, 0u) << "a page the last kernel used was given up";
  EXPECT_EQ(s.evictions, 0u);
}

TEST(Promotion, IsOffByDefault) {
  EXPECT_FALSE(uvm::config{}.promote_remote);
  uvm::manager mgr(promoting(false));
  std::uint32_t b = 0;
  const uvm::stats s = run(mgr, 5, false, b);
  EXPECT_EQ(b, 10u);
  EXPECT_EQ(s.promoted_pages, 0u);
  EXPECT_EQ(s.evictions, 0u);
}

}  // namespace
