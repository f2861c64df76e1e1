#include "host/coherence/page_table.hpp"

#include "host/common/clock.hpp"

#include <gtest/gtest.h>

#include <unistd.h>

#include <chrono>
#include <fstream>
#include <string>
#include <thread>

namespace uvm::detail {
namespace {

using namespace std::chrono_literals;

// Whether thread `tid` of this process is asleep (state S in /proc: blocked in a system call).
bool asleep(pid_t tid) {
  std::ifstream f("/proc/self/task/" + std::to_string(tid) + "/stat");
  std::string stat;
  std::getline(f, stat);
  const auto close = stat.rfind(')');  // the state follows the command name, which may hold ')'
  return close != std::string::npos && close + 2 < stat.size() && stat[close + 2] == 'S';
}

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
  const pid_t waiter = gettid();
  std::thread owner([&] {
    // Publishes once the waiter has registered on the word and is asleep (its only sleep after
    // setting the bit is the futex wait), so the wake-up is what ends its wait.
    const auto end = std::chrono::steady_clock::now() + 10s;
    while (((t.load(0) & waiters_bit) == 0 || !asleep(waiter)) &&
           std::chrono::steady_clock::now() < end) {
      std::this_thread::yield();
    }
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
