#include "host/coherence/page_table.hpp"

#include "host/common/clock.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <thread>

namespace uvm::detail {
namespace {

using namespace std::chrono_literals;

TEST(PageTable, StartsUnpopulatedWithoutFlags) {
  page_table t(1000);
  ASSERT_EQ(t.size(), 1000u);
  for (std::size_t i = 0; i < t.size(); ++i) EXPECT_EQ(t.load(i), 0u);
}

TEST(PageTable, ClaimIsExclusiveAndPublishSetsTheState) {
  page_table t(4);
  page_word w = t.load(2);
  ASSERT_TRUE(t.try_claim(2, w));
  EXPECT_EQ(visible_state(t.load(2)), page_state::migrating);
  page_word stale = w;  // a second claimant still holding the old word loses
  EXPECT_FALSE(t.try_claim(2, stale));
  EXPECT_NE(stale & busy_bit, 0u);
  t.publish(2, page_state::shared);
  EXPECT_EQ(t.load(2) & ~generation_mask, static_cast<page_word>(page_state::shared));
}

TEST(PageTable, EveryPublishAdvancesTheGeneration) {
  page_table t(1);
  page_word w = t.load(0);
  for (page_word g = 1; g <= 3; ++g) {
    ASSERT_TRUE(t.try_claim(0, w));
    t.publish(0, page_state::host_exclusive);  // the same state: still a new generation
    w = t.load(0);
    EXPECT_EQ(w & generation_mask, g * generation_one);
  }
  t.set_flag(0, 1, read_mostly_bit, true);  // advice is not a transition
  EXPECT_EQ(t.load(0) & generation_mask, 3 * generation_one);
}

TEST(PageTable, PublishKeepsAdviceSetWhileClaimed) {
  page_table t(1);
  page_word w = t.load(0);
  ASSERT_TRUE(t.try_claim(0, w));
  t.set_flag(0, 1, read_mostly_bit, true);
  t.publish(0, page_state::host_exclusive);
  EXPECT_EQ(t.load(0) & ~generation_mask,
            read_mostly_bit | static_cast<page_word>(page_state::host_exclusive));
  t.set_flag(0, 1, read_mostly_bit, false);
  EXPECT_EQ(t.load(0) & ~generation_mask, static_cast<page_word>(page_state::host_exclusive));
}

TEST(PageTable, WaiterWakesWhenThePageIsPublished) {
  page_table t(1);
  page_word w = t.load(0);
  ASSERT_TRUE(t.try_claim(0, w));
  std::thread owner([&] {
    std::this_thread::sleep_for(50ms);
    t.publish(0, page_state::host_exclusive);
  });
  EXPECT_TRUE(t.wait_until_idle(0, deadline_after(10s)));
  EXPECT_EQ(stored_state(t.load(0)), page_state::host_exclusive);
  EXPECT_EQ(t.load(0) & (busy_bit | waiters_bit), 0u);
  owner.join();
}

TEST(PageTable, WaitEndsAtTheDeadline) {
  page_table t(1);
  page_word w = t.load(0);
  ASSERT_TRUE(t.try_claim(0, w));
  const auto start = std::chrono::steady_clock::now();
  EXPECT_FALSE(t.wait_until_idle(0, deadline_after(100ms)));
  EXPECT_GE(std::chrono::steady_clock::now() - start, 100ms);
}

}  // namespace
}  // namespace uvm::detail
