#include "tests/common/fault_mechanism.hpp"

#include <uvm/uvm.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <random>
#include <string>
#include <thread>
#include <vector>

namespace {

uvm::config with_page(std::size_t page_size) {
  uvm::config c = uvm::testing::test_config();
  c.page_size = page_size;
  return c;
}

TEST(Manager, FirstTouchReadsZerosAndTakesOneFaultPerPage) {
  uvm::manager mgr(with_page(64 << 10));
  auto v = mgr.allocate<std::uint64_t>(1 << 20);  // 8 MiB = 128 pages
  const std::size_t pages = v.bytes().page_count();
  ASSERT_EQ(pages, 128u);
  for (std::size_t p = 0; p < pages; ++p) {
    EXPECT_EQ(v.bytes().state_of(v.data() + p * 8192), uvm::page_state::unpopulated);
  }
  std::uint64_t sum = 0;
  for (std::uint64_t x : v) sum += x;
  EXPECT_EQ(sum, 0u);
  const uvm::stats s = mgr.stats();
  EXPECT_EQ(s.first_touch.count, pages);
  EXPECT_EQ(s.first_touch.latency.count(), pages);
  EXPECT_EQ(mgr.state_of(v.data()), uvm::page_state::host_exclusive);
  // Reading populated the page read-write: a write now takes no fault.
  v[0] = 1;
  EXPECT_EQ(mgr.stats().cpu_faults(), pages);
}

TEST(Manager, ReadThenWriteUpgradesAReadMostlyPage) {
  uvm::manager mgr(with_page(64 << 10));
  uvm::range r = mgr.allocate(256 << 10);
  r.advise(uvm::advice::set_read_mostly);
  volatile auto* p = reinterpret_cast<volatile std::uint32_t*>(r.data());
  EXPECT_EQ(p[0], 0u);  // read: first touch makes a read-only copy
  EXPECT_EQ(r.state_of(r.data()), uvm::page_state::shared);
  EXPECT_EQ(mgr.stats().first_touch.count, 1u);
  EXPECT_EQ(mgr.stats().upgrade.count, 0u);
  p[1] = 7;  // write: the read-only copy is upgraded
  EXPECT_EQ(r.state_of(r.data()), uvm::page_state::host_exclusive);
  EXPECT_EQ(mgr.stats().upgrade.count, 1u);
  EXPECT_EQ(p[1], 7u);
  // Other pages were not touched.
  EXPECT_EQ(r.state_of(r.data() + (64 << 10)), uvm::page_state::unpopulated);
}

TEST(Manager, AdviceAppliesToTheSpanOnly) {
  uvm::manager mgr(with_page(4096));
  uvm::range r = mgr.allocate(16 * 4096);
  mgr.advise(r.data() + 4096, 2 * 4096, uvm::advice::set_read_mostly);  // pages 1 and 2
  volatile std::byte* b = r.data();
  for (int page = 0; page < 4; ++page) (void)b[page * 4096];
  EXPECT_EQ(r.state_of(r.data()), uvm::page_state::host_exclusive);
  EXPECT_EQ(r.state_of(r.data() + 4096), uvm::page_state::shared);
  EXPECT_EQ(r.state_of(r.data() + 2 * 4096), uvm::page_state::shared);
  EXPECT_EQ(r.state_of(r.data() + 3 * 4096), uvm::page_state::host_exclusive);
}

// 8 threads write their own slots of every page (overlapping pages) and their own pages
// (disjoint); every write must survive, with no lost update from racing first touches.
void concurrent_writers(bool read_mostly) {
  constexpr int threads = 8;
  uvm::manager mgr(with_page(4096));
  constexpr std::size_t pages = 1024;
  auto shared_pages = mgr.allocate<std::uint64_t>(pages * 512);
  auto own_pages = mgr.allocate<std::uint64_t>(pages * 512);
  auto counters = mgr.allocate<std::uint64_t>(pages * 512);
  if (read_mostly) {
    shared_pages.bytes().advise(uvm::advice::set_read_mostly);
    counters.bytes().advise(uvm::advice::set_read_mostly);
  }
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      std::mt19937 rng(t);
      std::vector<std::size_t> order(pages);
      for (std::size_t i = 0; i < pages; ++i) order[i] = i;
      std::shuffle(order.begin(), order.end(), rng);
      for (std::size_t p : order) {
        volatile std::uint64_t sink = shared_pages[p * 512 + 64 + t];  // a read first, sometimes
        (void)sink;
        shared_pages[p * 512 + t] = p * 100 + t;  // overlapping pages
        if (p % threads == static_cast<std::size_t>(t)) {
          for (std::size_t i = 0; i < 512; ++i) own_pages[p * 512 + i] = p ^ i;  // disjoint
        }
        std::atomic_ref<std::uint64_t>(counters[(p % 8) * 512]).fetch_add(1);  // same words
      }
    });
  }
  for (auto& th : pool) th.join();
  for (std::size_t p = 0; p < pages; ++p) {
    for (int t = 0; t < threads; ++t) ASSERT_EQ(shared_pages[p * 512 + t], p * 100 + t);
    for (std::size_t i = 0; i < 512; ++i) ASSERT_EQ(own_pages[p * 512 + i], p ^ i);
  }
  for (std::size_t k = 0; k < 8; ++k) EXPECT_EQ(counters[k * 512], pages / 8 * threads);
  const uvm::stats s = mgr.stats();
  EXPECT_GE(s.first_touch.count, 2 * pages);
  if (read_mostly) EXPECT_GT(s.upgrade.count, 0u);
}

TEST(Manager, EightThreadsLoseNoWrite) {
  concurrent_writers(false);
}
TEST(Manager, EightThreadsLoseNoWriteWithReadMostlyUpgrades) {
  concurrent_writers(true);
}

TEST(Manager, ZeroAndAbsurdSizesAreRejected) {
  uvm::manager mgr;
  uvm::range keep = mgr.allocate(1 << 20);
  keep.data()[0] = std::byte{1};
  EXPECT_THROW((void)mgr.allocate(0), uvm::invalid_argument);
  EXPECT_THROW((void)mgr.allocate(uvm::manager::max_allocation() + 1), uvm::invalid_argument);
  EXPECT_THROW((void)mgr.allocate(SIZE_MAX), uvm::invalid_argument);
  EXPECT_THROW((void)mgr.allocate<double>(SIZE_MAX / 4), uvm::invalid_argument);
  try {
    (void)mgr.allocate(0);
  } catch (const uvm::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("size 0"), std::string::npos) << e.what();
  }
  EXPECT_EQ(keep.data()[0], std::byte{1});
  EXPECT_EQ(mgr.stats().live_ranges, 1u);
}

TEST(Manager, BadPageSizesAreRejected) {
  for (std::size_t ps : {std::size_t{0}, std::size_t{3000}, std::size_t{65535}, std::size_t{1024},
                         std::size_t{2} << 30}) {
    EXPECT_THROW(uvm::manager{with_page(ps)}, uvm::invalid_argument) << ps;
  }
}

TEST(Manager, DeviceIndicesOutsideTheManagersDevicesAreRejectedByName) {
  uvm::manager mgr;
  ASSERT_EQ(mgr.device_count(), 1);
  uvm::range r = mgr.allocate(1 << 20);
  EXPECT_EQ(mgr.create_stream("zero", 0).device(), 0);
  EXPECT_EQ(uvm::stream{}.device(), 0) << "the default stream is device 0's";
  const auto rejects = [](auto&& call, const char* what) {
    try {
      call();
      ADD_FAILURE() << what << " accepted a device that does not exist";
    } catch (const uvm::invalid_argument& e) {
      EXPECT_NE(std::string(e.what()).find("does not exist"), std::string::npos) << e.what();
    }
  };
  rejects([&] { (void)mgr.create_stream("one", 1); }, "create_stream");
  rejects([&] { (void)mgr.create_stream("minus", -1); }, "create_stream");
  rejects([&] { mgr.prefetch(r.data(), 4096, uvm::location::device(1)); }, "prefetch");
  rejects(
      [&] {
        mgr.advise(r.data(), 4096, uvm::advice::set_preferred_location, uvm::location::device(-1));
      },
      "advise");
  rejects([&] { mgr.pin_resident(r.data(), 4096, uvm::location::device(1)); }, "pin_resident");
  r.data()[0] = std::byte{1};  // nothing was changed
  EXPECT_EQ(mgr.state_of(r.data()), uvm::page_state::host_exclusive);
}

TEST(Manager, PointersOutsideEveryRangeAreRejected) {
  uvm::manager mgr;
  uvm::range r = mgr.allocate(1 << 20);
  int local = 0;
  EXPECT_THROW((void)mgr.state_of(&local), uvm::invalid_argument);
  EXPECT_THROW((void)mgr.state_of(r.data() + r.page_count() * r.page_size()),
               uvm::invalid_argument);
  EXPECT_THROW(mgr.advise(&local, 4, uvm::advice::set_read_mostly), uvm::invalid_argument);
  EXPECT_THROW(mgr.advise(r.data(), 2 << 20, uvm::advice::set_read_mostly), uvm::invalid_argument);
  EXPECT_THROW(mgr.advise(r.data(), 0, uvm::advice::set_read_mostly), uvm::invalid_argument);
  EXPECT_THROW(mgr.free(&local), uvm::invalid_argument);
  EXPECT_THROW(mgr.free(r.data()), uvm::invalid_argument) << "still owned by a uvm::range";
  EXPECT_THROW((void)r.state_of(&local), uvm::invalid_argument);
  r.data()[5] = std::byte{5};
  EXPECT_EQ(r.data()[5], std::byte{5});
}

TEST(Manager, ReleasedRangesAreFreedOnceAndDoubleFreeIsAnError) {
  uvm::manager mgr;
  uvm::range r = mgr.allocate(1 << 20);
  uvm::range other = mgr.allocate(1 << 20);
  other.data()[0] = std::byte{9};
  void* p = r.release();
  EXPECT_TRUE(r.empty());
  static_cast<std::byte*>(p)[100] = std::byte{1};  // still valid
  EXPECT_EQ(mgr.stats().live_ranges, 2u);
  mgr.free(p);
  EXPECT_EQ(mgr.stats().live_ranges, 1u);
  try {
    mgr.free(p);
    ADD_FAILURE() << "double free was accepted";
  } catch (const uvm::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("freed twice"), std::string::npos) << e.what();
  }
  EXPECT_EQ(other.data()[0], std::byte{9});
  r.reset();  // resetting an empty range is a no-op
}

TEST(Manager, ReserveIsReturnedOnFree) {
  uvm::manager mgr;
  {
    uvm::range r = mgr.allocate(10 << 20);
    EXPECT_EQ(mgr.stats().reserved_bytes, 10u << 20);
  }
  EXPECT_EQ(mgr.stats().reserved_bytes, 0u);
  EXPECT_EQ(mgr.stats().live_ranges, 0u);
}

TEST(Manager, RangeOutlivesItsManagerObject) {
  uvm::range r;
  {
    uvm::manager mgr;
    r = mgr.allocate(1 << 20);
  }
  r.data()[1000] = std::byte{3};
  EXPECT_EQ(r.data()[1000], std::byte{3});
}

TEST(Manager, ManyManagersAtOnce) {
  constexpr int count = 16;
  std::vector<uvm::manager> managers;
  std::vector<uvm::typed_range<int>> ranges;
  for (int i = 0; i < count; ++i) {
    managers.emplace_back(with_page(std::size_t{4096} << (i % 4)));
    ranges.push_back(managers.back().allocate<int>(100000));
  }
  std::vector<std::thread> pool;
  for (int i = 0; i < count; ++i) {
    pool.emplace_back([&, i] {
      for (int& x : ranges[i]) x = i;
    });
  }
  for (auto& t : pool) t.join();
  // Tear down every other manager's range; the rest stay intact and keep faulting correctly.
  for (int i = 0; i < count; i += 2) ranges[i].bytes().reset();
  for (int i = 1; i < count; i += 2) {
    for (int x : ranges[i]) ASSERT_EQ(x, i);
    EXPECT_EQ(managers[i].stats().first_touch.count, ranges[i].bytes().page_count());
    EXPECT_EQ(managers[i].stats().live_ranges, 1u);
  }
  EXPECT_THROW((void)managers[1].state_of(ranges[3].data()), uvm::invalid_argument)
      << "a manager only knows its own ranges";
}

TEST(ManagerDeathTest, UseAfterFreeCrashesWithSigsegv) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(
      {
        uvm::manager mgr;
        uvm::range r = mgr.allocate(1 << 20);
        volatile std::byte* p = r.data();
        p[0] = std::byte{1};
        r.reset();
        p[0] = std::byte{2};
      },
      testing::KilledBySignal(SIGSEGV), "");
}

}  // namespace
