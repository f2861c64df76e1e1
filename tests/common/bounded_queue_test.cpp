#include "host/common/bounded_queue.hpp"

#include <gtest/gtest.h>

#include <thread>
#include <vector>

namespace uvm::detail {
namespace {

TEST(BoundedQueue, FifoAndFull) {
  bounded_queue<int, 4> q;
  for (int i = 0; i < 4; ++i) EXPECT_TRUE(q.try_push(i));
  EXPECT_FALSE(q.try_push(99));
  int v = -1;
  for (int i = 0; i < 4; ++i) {
    ASSERT_TRUE(q.try_pop(v));
    EXPECT_EQ(v, i);
  }
  EXPECT_FALSE(q.try_pop(v));
}

TEST(BoundedQueue, ManyProducersLoseNothing) {
  constexpr int producers = 4;
  constexpr int per_producer = 100000;
  bounded_queue<int, 256> q;
  std::vector<std::thread> threads;
  for (int p = 0; p < producers; ++p) {
    threads.emplace_back([&q, p] {
      for (int i = 0; i < per_producer; ++i) {
        while (!q.try_push(p * per_producer + i)) std::this_thread::yield();
      }
    });
  }
  std::vector<int> seen(producers * per_producer, 0);
  std::vector<int> last(producers, -1);
  for (int n = 0; n < producers * per_producer;) {
    int v;
    if (!q.try_pop(v)) continue;
    ++seen[v];
    EXPECT_GT(v % per_producer, last[v / per_producer]) << "per-producer order";
    last[v / per_producer] = v % per_producer;
    ++n;
  }
  for (auto& t : threads) t.join();
  for (int c : seen) ASSERT_EQ(c, 1);
}

}  // namespace
}  // namespace uvm::detail
