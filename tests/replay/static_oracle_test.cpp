#include "bench/replay/static_oracle.hpp"

#include "bench/replay/generator.hpp"
#include "bench/replay/simulator.hpp"
#include "bench/replay/trace_io.hpp"

#include <gtest/gtest.h>

#include <string>

namespace uvm::replay {
namespace {

using detail::page_ref;

TEST(StaticOracle, EvictsTheLeastPopularPageThenTheLeastRecent) {
  // Popularity over the trace: page 0 three accesses, page 1 two, pages 2 and 3 one each.
  trace t;
  t.records.push_back(range_record(0, 8));
  for (std::uint32_t p : {0, 0, 0, 1, 1, 2, 3}) t.records.push_back(device_access(0, p));
  static_oracle a0(t);
  EXPECT_EQ(a0.name(), "a0");
  a0.on_resident({0, 3});
  a0.on_resident({0, 2});
  a0.on_resident({0, 0});
  a0.on_resident({0, 1});
  EXPECT_EQ(a0.size(), 4u);
  EXPECT_EQ(a0.victim(), (page_ref{0, 3}));  // one access, and older than page 2
  a0.on_access({0, 3});                      // now page 2 is the older of the two
  EXPECT_EQ(a0.victim(), (page_ref{0, 2}));
  a0.on_released({0, 2});
  a0.on_released({0, 3});
  EXPECT_EQ(a0.victim(), (page_ref{0, 1}));
  a0.on_released({0, 1});
  a0.on_released({0, 1});  // again: ignored
  a0.on_access({0, 5});    // never resident: ignored
  EXPECT_EQ(a0.victim(), (page_ref{0, 0}));
  EXPECT_EQ(a0.size(), 1u);
}

TEST(StaticOracle, BeatsTheOnlinePoliciesWhereReferencesAreIndependentDraws) {
  // hot_cold draws every reference independently (90% to the hot tenth): knowing the popularity
  // keeps the hot pages resident, which the online policies only learn.
  gen_options g;
  g.kind = pattern::hot_cold;
  g.pages = 4096;
  g.passes = 4;
  const trace t = generate(g);
  sim_options o;
  o.budget_pages = 1024;
  o.eviction = "a0";
  const sim_result a0 = simulate(t, o);
  EXPECT_EQ(a0.eviction, "a0");
  for (const char* online : {"fifo", "lru", "clock", "adaptive", "lfu", "dueling", "arc", "lirs"}) {
    o.eviction = online;
    EXPECT_LT(a0.device_faults, simulate(t, o).device_faults) << online;
  }
  o.eviction = "min";
  EXPECT_LE(simulate(t, o).device_faults, a0.device_faults);  // MIN also knows when
}

}  // namespace
}  // namespace uvm::replay
