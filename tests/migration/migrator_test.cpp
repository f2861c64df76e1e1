// The migration engine through the public API on the emulated device: prefetch, dirty-bit
// copy-back, oversubscription, epochs, and errors; and launch residency on the migrator itself.
#include "host/migration/migrator.hpp"
#include "host/backend/emulated/emulated_backend.hpp"
#include "host/coherence/managed_range.hpp"
#include "host/fault/service/fault_service.hpp"
#include "host/fault/sources/range_registry.hpp"
#include "host/fault/sources/signal_fault_source.hpp"
#include "host/telemetry/counters.hpp"
#include "host/telemetry/event_ring.hpp"

#include "tests/migration/device_rig.hpp"
#include "tests/migration/emulated_config.hpp"

#include <uvm/uvm.hpp>

#include "tests/common/prefetch_now.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <vector>

namespace {

using namespace std::chrono_literals;

using uvm::testing::emulated;

TEST(Migrator, PrefetchBothWaysMovesEveryPageOnceAndKernelsTakeNoFaults) {
  uvm::manager mgr(emulated(64 << 10));
  constexpr std::size_t n = 4 << 20;  // 16 MiB of uint32_t
  auto a = mgr.allocate<std::uint32_t>(n);
  for (std::size_t i = 0; i < n; ++i) a[i] = static_cast<std::uint32_t>(i);
  const std::size_t pages = a.bytes().page_count();
  mgr.reset_stats();

  EXPECT_EQ(uvm::testing::prefetch_now(mgr, a.data(), n * 4, uvm::location::device()), pages);
  uvm::stats s = mgr.stats();
  EXPECT_EQ(s.bytes_host_to_device, n * 4);
  EXPECT_EQ(s.prefetched_pages, pages);
  for (std::size_t p = 0; p < pages; ++p) {
    ASSERT_EQ(mgr.state_of(a.data() + p * (16 << 10)), uvm::page_state::device_exclusive);
  }
  auto v = a.view();
  mgr.parallel_for(n / 2, [=](std::size_t i) { v.store(i, v.load(i) + 1); });  // half written
  mgr.synchronize();
  EXPECT_EQ(mgr.stats().device.count, 0u) << "prefetched pages take no device faults";

  EXPECT_EQ(uvm::testing::prefetch_now(mgr, a.data(), n * 4, uvm::location::host()), pages);
  s = mgr.stats();
  EXPECT_EQ(s.bytes_device_to_host, n * 2) << "only the pages the kernel wrote come back";
  mgr.reset_stats();
  for (std::size_t i = 0; i < n; ++i) {
    ASSERT_EQ(a[i], static_cast<std::uint32_t>(i + (i < n / 2 ? 1 : 0))) << i;
  }
  EXPECT_EQ(mgr.stats().cpu_faults(), 0u) << "prefetched to the host: no faults";
}

TEST(Migrator, PrefetchToTheHostWaitsForKernelsOnOtherStreams) {
  uvm::manager mgr(emulated(64 << 10));
  constexpr std::size_t n = 1 << 16;
  auto a = mgr.allocate<std::uint32_t>(n);
  auto v = a.view();
  const uvm::stream other = mgr.create_stream("other");
  std::atomic<bool> started{false};
  mgr.parallel_for(
      1,
      [=, &started](std::size_t) {
        started = true;
        for (std::size_t i = 0; i < n; ++i) {
          v.store(i, 7);
          if (i % 4096 == 0) std::this_thread::sleep_for(2ms);
        }
      },
      other);
  while (!started) std::this_thread::yield();
  uvm::testing::prefetch_now(mgr, a.bytes(),
                             uvm::location::host());  // default stream: must still wait
  mgr.reset_stats();
  for (std::size_t i = 0; i < n; ++i) ASSERT_EQ(a[i], 7u) << i;
  EXPECT_EQ(mgr.stats().cpu_faults(), 0u);
  mgr.synchronize(other);
}

std::uint64_t device_faults_for_sequential_kernel(uvm::prefetch_kind prefetch) {
  uvm::config cfg = emulated(4 << 10);
  cfg.prefetch = prefetch;
  uvm::manager mgr(cfg);
  constexpr std::size_t pages = 2048;  // 8 MiB: four 2 MiB blocks
  constexpr std::size_t per_page = (4 << 10) / 4;
  auto a = mgr.allocate<std::uint32_t>(pages * per_page);
  for (std::size_t p = 0; p < pages; ++p) a[p * per_page] = static_cast<std::uint32_t>(p);
  auto v = a.view();
  std::atomic<std::size_t> wrong{0};
  mgr.parallel_for(pages, [=, &wrong](std::size_t p) {
    if (v.load(p * per_page) != p) wrong.fetch_add(1);
  });
  mgr.synchronize();
  EXPECT_EQ(wrong.load(), 0u);
  const uvm::stats s = mgr.stats();
  EXPECT_EQ(s.bytes_host_to_device, pages * (4u << 10)) << "prefetch moves no page twice";
  EXPECT_EQ(s.device.count + s.prefetched_pages, pages);
  return s.device.count;
}

TEST(Migrator, TreePrefetchCutsDeviceFaultsTenfoldOnAStream) {
  const std::uint64_t none = device_faults_for_sequential_kernel(uvm::prefetch_kind::none);
  const std::uint64_t tree = device_faults_for_sequential_kernel(uvm::prefetch_kind::tree);
  const std::uint64_t sequential =
      device_faults_for_sequential_kernel(uvm::prefetch_kind::sequential);
  RecordProperty("tree_faults", static_cast<int>(tree));
  RecordProperty("sequential_faults", static_cast<int>(sequential));
  EXPECT_EQ(none, 2048u);
  EXPECT_LE(tree * 10, none) << "tree " << tree;
  EXPECT_LT(sequential, none);
}

// Four frames hold pages 0-3 of `a`; a kernel then uses pages 0 and 1; moving two pages of `b`
// in must evict two of `a`'s: fifo takes the oldest (0, 1), lru the least recently used (2, 3).
void evict_after_use(uvm::eviction_kind eviction, std::size_t expect_first_evicted) {
  constexpr std::size_t page = 64 << 10;
  uvm::config cfg = emulated(page, 4 * page);
  cfg.eviction = eviction;
  uvm::manager mgr(cfg);
  auto a = mgr.allocate<std::uint32_t>(4 * page / 4);
  auto b = mgr.allocate<std::uint32_t>(2 * page / 4);
  ASSERT_EQ(uvm::testing::prefetch_now(mgr, a.bytes(), uvm::location::device()), 4u);
  auto v = a.const_view();
  std::atomic<std::uint32_t> sum{0};
  mgr.parallel_for(2, [=, &sum](std::size_t p) { sum += v.load(p * (page / 4)); });
  mgr.synchronize();
  ASSERT_EQ(uvm::testing::prefetch_now(mgr, b.bytes(), uvm::location::device()), 2u);
  EXPECT_EQ(mgr.stats().evictions, 2u);
  for (std::size_t p = 0; p < 4; ++p) {
    const bool evicted = p == expect_first_evicted || p == expect_first_evicted + 1;
    EXPECT_EQ(mgr.state_of(a.data() + p * (page / 4)),
              evicted ? uvm::page_state::host_exclusive : uvm::page_state::device_exclusive)
        << to_string(eviction) << " page " << p;
  }
}

TEST(Migrator, FifoEvictsTheOldestPages) {
  evict_after_use(uvm::eviction_kind::fifo, 0);
}
TEST(Migrator, LruEvictsTheLeastRecentlyUsedPages) {
  evict_after_use(uvm::eviction_kind::lru, 2);
}
TEST(Migrator, AdaptiveIsLruWithoutALoop) {
  evict_after_use(uvm::eviction_kind::adaptive, 2);
}
TEST(Migrator, LfuEvictsTheLeastUsedPages) {
  evict_after_use(uvm::eviction_kind::lfu, 2);
}
TEST(Migrator, DuelingStartsAsLru) {
  evict_after_use(uvm::eviction_kind::dueling, 2);
}

// Two halves of a range prefetched to the device in turn, each evicting the other: a loop too
// big for the device, as fast as copies go. Evictions and the moves that bring evicted pages
// back are capacity misses: the detector must not throttle or pin any of them (it did, with
// every move counted: the pinned pages then stayed on the host and ran remote).
TEST(Migrator, ALoopTooBigForTheDeviceIsNotThrashing) {
  constexpr std::size_t page = 4096, half = 8;
  uvm::config cfg = emulated(page, half * page);
  cfg.thrashing_lapse = std::chrono::seconds(1);  // any speed is fast enough to look like it
  uvm::manager mgr(cfg);
  auto a = mgr.allocate<std::uint32_t>(2 * half * page / 4);
  for (std::size_t p = 0; p < 2 * half; ++p) a[p * (page / 4)] = static_cast<std::uint32_t>(p);
  for (int round = 0; round < 10; ++round) {
    for (std::size_t h = 0; h < 2; ++h) {
      EXPECT_EQ(uvm::testing::prefetch_now(mgr, a.data() + h * half * (page / 4), half * page,
                                           uvm::location::device()),
                half)
          << "round " << round << ", half " << h << ": pages stayed on the host";
    }
  }
  const uvm::stats s = mgr.stats();
  EXPECT_EQ(s.thrashing_throttles, 0u);
  EXPECT_EQ(s.thrashing_pins, 0u);
  EXPECT_EQ(s.evictions, 19 * half);
  for (std::size_t p = 0; p < 2 * half; ++p) EXPECT_EQ(a[p * (page / 4)], p);
}

// A page written alternately by a kernel and the CPU migrates every round until the detector
// pins it to the host: with 3 migrations per detection and 2 throttles before the pin, the
// 9th migration pins it and one more brings it back; after that the kernel maps it remote.
TEST(Migrator, ThrashingPageIsPinnedAndItsMigrationsStop) {
  uvm::config cfg = emulated(64 << 10);
  cfg.thrashing_lapse = std::chrono::seconds(5);  // every round counts, however slow the machine
  uvm::manager mgr(cfg);
  auto a = mgr.allocate<std::uint32_t>(16);
  a[0] = 0;  // host-resident first: the first trip to the device is a migration
  auto v = a.view();
  constexpr int rounds = 20;
  for (int k = 0; k < rounds; ++k) {
    mgr.parallel_for(1, [=](std::size_t) { v.store(0, v.load(0) + 1); });
    mgr.synchronize();
    a[0] += 1;
  }
  EXPECT_EQ(a[0], 2u * rounds);
  const uvm::stats s = mgr.stats();
  const std::uint64_t migrations =
      (s.bytes_host_to_device + s.bytes_device_to_host) / a.bytes().page_size();
  EXPECT_EQ(migrations, 10u) << "bounded by the pin, not by the " << 2 * rounds << " rounds";
  EXPECT_EQ(s.thrashing_throttles, 2u);
  EXPECT_EQ(s.thrashing_pins, 1u);
  EXPECT_EQ(mgr.state_of(a.data()), uvm::page_state::remote);
}

TEST(Migrator, AThrashingPinOutlastsRoundsSlowerThanTheDefaultQuietPeriod) {
  // With a 5 s lapse, rounds 20 ms apart are thrashing; the pin must not decay between them
  // (the quiet period is 20 lapses, not a fixed 10 ms).
  uvm::config cfg = emulated(64 << 10);
  cfg.thrashing_lapse = std::chrono::seconds(5);
  uvm::manager mgr(cfg);
  auto a = mgr.allocate<std::uint32_t>(16);
  a[0] = 0;
  auto v = a.view();
  for (int k = 0; k < 12; ++k) {
    mgr.parallel_for(1, [=](std::size_t) { v.store(0, v.load(0) + 1); });
    mgr.synchronize();
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    a[0] += 1;
  }
  const uvm::stats s = mgr.stats();
  EXPECT_EQ((s.bytes_host_to_device + s.bytes_device_to_host) / a.bytes().page_size(), 10u);
  EXPECT_EQ(s.thrashing_pins, 1u);
  EXPECT_EQ(mgr.state_of(a.data()), uvm::page_state::remote);
}

TEST(Migrator, ThrashingDetectionCanBeTurnedOff) {
  uvm::config cfg = emulated(64 << 10);
  cfg.thrashing_migrations = 0;
  uvm::manager mgr(cfg);
  auto a = mgr.allocate<std::uint32_t>(16);
  a[0] = 0;
  auto v = a.view();
  for (int k = 0; k < 6; ++k) {
    mgr.parallel_for(1, [=](std::size_t) { v.store(0, v.load(0) + 1); });
    mgr.synchronize();
    a[0] += 1;
  }
  const uvm::stats s = mgr.stats();
  EXPECT_EQ((s.bytes_host_to_device + s.bytes_device_to_host) / a.bytes().page_size(), 12u);
  EXPECT_EQ(s.thrashing_throttles + s.thrashing_pins, 0u);
}

TEST(Migrator, PrefetchRejectsBadSpans) {
  uvm::manager mgr(emulated(64 << 10));
  auto a = mgr.allocate<int>(1000);
  int local = 0;
  EXPECT_THROW(uvm::testing::prefetch_now(mgr, &local, 4, uvm::location::device()),
               uvm::invalid_argument);
  EXPECT_THROW(uvm::testing::prefetch_now(mgr, a.data(), 0, uvm::location::device()),
               uvm::invalid_argument);
  EXPECT_THROW(uvm::testing::prefetch_now(mgr, a.data(), 1 << 20, uvm::location::device()),
               uvm::invalid_argument);
  EXPECT_THROW(uvm::testing::prefetch_now(mgr, a.data(), 4, uvm::location::device(3)),
               uvm::invalid_argument);
  a[5] = 5;
  EXPECT_EQ(a[5], 5);
}

TEST(Migrator, OversubscriptionAtTwiceTheBudgetKeepsEveryByte) {
  constexpr std::size_t page = 64 << 10;
  constexpr std::size_t frames = 32;
  uvm::manager mgr(emulated(page, frames * page));
  constexpr std::size_t n = 2 * frames * page / 8;
  auto a = mgr.allocate<std::uint64_t>(n);
  for (std::size_t i = 0; i < n; ++i) a[i] = i * 2654435761u;
  auto v = a.view();
  for (int round = 0; round < 3; ++round) {
    mgr.parallel_for(n, [=](std::size_t i) { v.store(i, v.load(i) ^ (i + 1)); });
    mgr.synchronize();
  }
  const uvm::stats s = mgr.stats();
  EXPECT_GT(s.remote_mappings, 0u) << "pages beyond the budget run remote";
  for (std::size_t i = 0; i < n; ++i) ASSERT_EQ(a[i], (i * 2654435761u) ^ (i + 1)) << i;

  // Prefetching twice the budget fills it; prefetching the second half then evicts the oldest
  // pages (FIFO), which are the first half's. (From the host: the reads above may have left
  // read-only duplicates holding frames.)
  (void)uvm::testing::prefetch_now(mgr, a.data(), n * 8, uvm::location::host());
  mgr.reset_stats();
  EXPECT_EQ(uvm::testing::prefetch_now(mgr, a.data(), n * 8, uvm::location::device()), frames);
  EXPECT_EQ(mgr.stats().evictions, 0u);
  std::uint64_t* second = a.data() + n / 2;
  EXPECT_EQ(uvm::testing::prefetch_now(mgr, second, n * 4, uvm::location::device()), frames);
  EXPECT_EQ(mgr.stats().evictions, frames);
  EXPECT_EQ(mgr.state_of(a.data()), uvm::page_state::host_exclusive);
  EXPECT_EQ(mgr.state_of(second), uvm::page_state::device_exclusive);
  for (std::size_t i = 0; i < n; ++i) ASSERT_EQ(a[i], (i * 2654435761u) ^ (i + 1)) << i;
}

TEST(Migrator, ReadMostlyDuplicatesOnDeviceReadsAndWritesCollapse) {
  uvm::manager mgr(emulated(64 << 10));
  auto a = mgr.allocate<int>(1 << 16);
  for (auto& x : a) x = 3;
  a.bytes().advise(uvm::advice::set_read_mostly);
  auto cv = a.const_view();
  std::atomic<long> sum{0};
  mgr.parallel_for(a.size(), [=, &sum](std::size_t i) { sum += cv.load(i); });
  mgr.synchronize();
  EXPECT_EQ(sum.load(), 3L * a.size());
  EXPECT_EQ(mgr.state_of(a.data()), uvm::page_state::shared);
  mgr.reset_stats();
  EXPECT_EQ(a[100], 3);  // the host copy is still readable: no fault at all
  EXPECT_EQ(mgr.stats().cpu_faults(), 0u);
  a[100] = 4;  // a CPU write collapses the copies
  EXPECT_EQ(mgr.state_of(a.data()), uvm::page_state::host_exclusive);
  auto v = a.view();
  mgr.parallel_for(1, [=](std::size_t) { v.store(101, v.load(100) + 1); });
  mgr.synchronize();
  EXPECT_EQ(a[101], 5);
}

TEST(Migrator, CpuAccessDuringAKernelWaitsForItAndSeesNoTornPage) {
  uvm::manager mgr(emulated(64 << 10));
  constexpr std::size_t n = (64 << 10) / 8;
  auto a = mgr.allocate<std::uint64_t>(n);
  auto v = a.view();
  std::atomic<bool> kernel_started{false};
  // One long-running "thread" rewrites the page slowly; a CPU read in the middle must see
  // either none or all of it.
  mgr.parallel_for(1, [=, &kernel_started](std::size_t) {
    v.store(0, 1);
    kernel_started = true;
    for (std::size_t i = 1; i < n; ++i) {
      v.store(i, 1);
      if (i % 1024 == 0) std::this_thread::sleep_for(5ms);
    }
  });
  while (!kernel_started) std::this_thread::yield();
  std::uint64_t sum = 0;
  for (std::size_t i = 0; i < n; ++i) sum += a[i];  // faults, waits for the kernel
  EXPECT_EQ(sum, n);
  mgr.synchronize();
  EXPECT_GT(mgr.stats().serviced.count, 0u);
}

// A frame freed while a kernel runs may still have lines of its old page in that kernel's
// caches: it is not handed to a kernel that was already running at the free, only to kernels
// that start after every such kernel has ended.
// Frames freed while a kernel runs go to it only if it may not use the pages they held: a kernel
// that may use a page can have lines of it in an L1 (invalidated only when a kernel starts); one
// that may not (a declared launch elsewhere) has none, and may take the frame at once. (Every
// frame freed under a running kernel used to wait for it, which left a two-stream pipeline
// without frames while the other stream's kernel ran long.)
TEST(Migrator, FramesFreedWhileAKernelRunsGoToItOnlyIfItMayNotUseTheirPages) {
  constexpr std::size_t page = 64 << 10;
  uvm::manager mgr(emulated(page, 4 * page));
  auto b = mgr.allocate<std::uint32_t>(4 * page / 4);
  for (std::size_t p = 0; p < 4; ++p) b[p * page / 4] = static_cast<std::uint32_t>(p);
  ASSERT_EQ(uvm::testing::prefetch_now(mgr, b.bytes(), uvm::location::device()),
            4u);  // every frame
  auto a = mgr.allocate<std::uint32_t>(page / 4);
  a[0] = 5;
  const uvm::stream s1 = mgr.create_stream("kernel");
  const uvm::stream s2 = mgr.create_stream("discard");
  std::atomic<bool> started{false};
  std::atomic<bool> go{false};
  std::atomic<std::uint32_t> seen{0};
  auto v = a.view();
  mgr.parallel_for(1,
                   [=, &started, &go, &seen](std::size_t) {
                     started = true;
                     while (!go) std::this_thread::yield();
                     seen = v.load(0);  // a device fault after the frames were freed
                   },
                   s1, {uvm::writes(a)});
  while (!started) std::this_thread::yield();
  mgr.reset_stats();
  mgr.discard(b.data(), 4 * page, s2);  // b is not the kernel's: no wait
  mgr.synchronize(s2);
  EXPECT_EQ(mgr.stats().discarded_pages, 4u);
  go = true;
  // Device-wide: it also waits for the service to finish the kernel's fault (the lane goes on
  // once its entry lands, a moment before the page's state is published).
  mgr.synchronize();
  EXPECT_EQ(seen.load(), 5u);
  EXPECT_EQ(mgr.state_of(a.data()), uvm::page_state::device_exclusive)
      << "the kernel, which may not use b, was not given a frame b freed";
  EXPECT_EQ(mgr.stats().remote_mappings, 0u);
}

TEST(Migrator, CpuThreadsFaultWhileKernelsRun) {
  uvm::manager mgr(emulated(64 << 10));
  constexpr std::size_t n = 1 << 20;
  auto gpu_side = mgr.allocate<std::uint32_t>(n);
  auto cpu_side = mgr.allocate<std::uint32_t>(n);
  auto v = gpu_side.view();
  for (int k = 0; k < 4; ++k) {
    mgr.parallel_for(n, [=](std::size_t i) { v.store(i, v.load(i) + 1); });
  }
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (std::size_t i = t; i < n; i += 4) cpu_side[i] = static_cast<std::uint32_t>(i);
    });
  }
  for (auto& t : threads) t.join();
  mgr.synchronize();
  for (std::size_t i = 0; i < n; ++i) {
    ASSERT_EQ(gpu_side[i], 4u) << i;
    ASSERT_EQ(cpu_side[i], i) << i;
  }
}

TEST(Migrator, UnservableDeviceFaultIsAClearErrorNotAHang) {
  uvm::config cfg = emulated(64 << 10);
  cfg.fault_timeout = 300ms;
  uvm::manager mgr(cfg);
  auto a = mgr.allocate<int>(1 << 16);
  // Hold page 1 in a transition that never ends, as a stuck migration would.
  auto pin = uvm::detail::range_registry::process().find(a.data());
  ASSERT_TRUE(pin);
  uvm::detail::page_word w = pin->pages().load(1);
  ASSERT_TRUE(pin->pages().try_claim(1, w));
  auto v = a.view();
  const std::size_t per_page = (64 << 10) / sizeof(int);
  mgr.parallel_for(2, [=](std::size_t i) { v.store(i * per_page, 42); });
  try {
    mgr.synchronize();
    ADD_FAILURE() << "no error";
  } catch (const uvm::device_fault& e) {
    EXPECT_NE(std::string(e.what()).find("page 1 of range"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("not served within the fault timeout"), std::string::npos)
        << e.what();
  }
  pin->pages().publish(1, uvm::page_state::unpopulated);
  EXPECT_EQ(a[0], 42) << "the page that could be served was";
  mgr.synchronize();  // the error was reported once
}

}  // namespace

namespace {

TEST(Advice, PreferredHostAndAccessedByMapRemoteInsteadOfMoving) {
  for (auto a : {uvm::advice::set_preferred_location, uvm::advice::set_accessed_by}) {
    uvm::manager mgr(emulated(64 << 10));
    auto x = mgr.allocate<std::uint32_t>(1 << 16);
    for (auto& e : x) e = 3;
    x.bytes().advise(a, a == uvm::advice::set_preferred_location ? uvm::location::host()
                                                                 : uvm::location::device());
    auto v = x.view();
    mgr.parallel_for(x.size(), [=](std::size_t i) { v.store(i, v.load(i) + 1); });
    mgr.synchronize();
    mgr.reset_stats();
    for (auto e : x) ASSERT_EQ(e, 4u);
    const uvm::stats s = mgr.stats();
    EXPECT_EQ(s.cpu_faults(), 0u) << "the pages never left the host";
    EXPECT_EQ(mgr.state_of(x.data()), uvm::page_state::remote);
    const uvm::range_attributes at = mgr.range_attributes(x.data(), x.size() * 4);
    if (a == uvm::advice::set_preferred_location) {
      EXPECT_EQ(at.preferred_location, uvm::location::host());
    } else {
      EXPECT_TRUE(at.accessed_by_device);
    }
  }
}

// The pages a fault brings along (tree prefetch) follow the same advice as the faulting page:
// pages preferred on the host, or accessed by the device, are mapped where they live, not moved
// (before, a block mostly mapped remote looked occupied, and the rest of it moved into frames).
TEST(Advice, PagesAFaultBringsAlongStayWhereTheAdviceKeepsThem) {
  for (auto a : {uvm::advice::set_preferred_location, uvm::advice::set_accessed_by}) {
    constexpr std::size_t page = 4096;
    uvm::config cfg = emulated(page);
    cfg.prefetch = uvm::prefetch_kind::tree;
    uvm::manager mgr(cfg);
    auto x = mgr.allocate<std::uint32_t>(1024 * page / 4);  // two 2 MiB blocks
    for (auto& e : x) e = 3;
    x.bytes().advise(a, a == uvm::advice::set_preferred_location ? uvm::location::host()
                                                                 : uvm::location::device());
    mgr.reset_stats();
    auto v = x.view();
    mgr.parallel_for(x.size() / 64, [=](std::size_t i) { v.store(i * 64, v.load(i * 64) + 1); });
    mgr.synchronize();
    const uvm::stats s = mgr.stats();
    EXPECT_EQ(s.bytes_host_to_device, 0u) << "no page moved to the device";
    EXPECT_EQ(s.prefetched_pages, 0u);
    EXPECT_EQ(s.remote_mappings, 1024u);
    for (std::size_t i = 0; i < x.size(); i += 64) ASSERT_EQ(x[i], 4u);
  }
}

TEST(Advice, AttributesReportWhatEveryPageAgreesOn) {
  uvm::manager mgr(emulated(64 << 10));
  auto x = mgr.allocate<std::uint32_t>(4 * (64 << 10) / 4);
  const std::size_t page = 64 << 10;
  std::byte* b = x.bytes().data();
  mgr.advise(b, 2 * page, uvm::advice::set_read_mostly);
  mgr.advise(b, 4 * page, uvm::advice::set_preferred_location, uvm::location::device());
  EXPECT_TRUE(mgr.range_attributes(b, 2 * page).read_mostly);
  EXPECT_FALSE(mgr.range_attributes(b, 3 * page).read_mostly) << "page 2 was not advised";
  EXPECT_EQ(mgr.range_attributes(b, 4 * page).preferred_location, uvm::location::device());
  EXPECT_FALSE(mgr.range_attributes(b, page).last_prefetch_location.has_value());
  uvm::testing::prefetch_now(mgr, b, 4 * page, uvm::location::device());
  uvm::testing::prefetch_now(mgr, b, page, uvm::location::host());
  EXPECT_EQ(mgr.range_attributes(b + page, 3 * page).last_prefetch_location,
            uvm::location::device());
  EXPECT_FALSE(mgr.range_attributes(b, 4 * page).last_prefetch_location.has_value());
  mgr.advise(b, 4 * page, uvm::advice::unset_preferred_location);
  EXPECT_FALSE(mgr.range_attributes(b, 4 * page).preferred_location.has_value());
  EXPECT_THROW(mgr.advise(b, page, uvm::advice::set_accessed_by, uvm::location::host()),
               uvm::invalid_argument);
  EXPECT_THROW(mgr.advise(b, page, uvm::advice::set_preferred_location, uvm::location::device(2)),
               uvm::invalid_argument);
}

TEST(PinResident, HostPinnedRangeTakesNoFaultAfterWarmUp) {
  uvm::manager mgr(emulated(64 << 10));
  auto x = mgr.allocate<std::uint32_t>(1 << 18);  // 1 MiB, never touched
  auto v = x.view();
  mgr.parallel_for(x.size() / 2, [=](std::size_t i) { v.store(i, 1); });  // half on the device
  mgr.synchronize();
  mgr.pin_resident(x.data(), x.size() * 4, uvm::location::host());
  EXPECT_TRUE(mgr.range_attributes(x.data(), x.size() * 4).pinned);
  mgr.reset_stats();
  std::uint64_t sum = 0;
  for (int round = 0; round < 3; ++round) {
    for (auto& e : x) sum += e++;
    mgr.parallel_for(x.size(), [=](std::size_t i) { v.store(i, v.load(i) + 1); });  // remote
    mgr.synchronize();
  }
  const uvm::stats s = mgr.stats();
  EXPECT_EQ(s.cpu_faults(), 0u) << "pinned on the host: no CPU fault at all";
  EXPECT_EQ(s.bytes_host_to_device + s.bytes_device_to_host, 0u) << "and nothing moves";
  EXPECT_EQ(x[0], 1u + 6u);
  EXPECT_EQ(x[x.size() - 1], 6u);
  mgr.unpin(x.data(), x.size() * 4);
  EXPECT_FALSE(mgr.range_attributes(x.data(), x.size() * 4).pinned);
}

TEST(PinResident, DevicePinnedPagesAreNeverEvicted) {
  constexpr std::size_t page = 64 << 10;
  uvm::manager mgr(emulated(page, 4 * page));
  auto hot = mgr.allocate<std::uint32_t>(2 * page / 4);
  auto other = mgr.allocate<std::uint32_t>(4 * page / 4);
  mgr.pin_resident(hot.data(), 2 * page, uvm::location::device());
  EXPECT_EQ(uvm::testing::prefetch_now(mgr, other.bytes(), uvm::location::device()), 2u)
      << "two frames are pinned";
  EXPECT_EQ(mgr.state_of(hot.data()), uvm::page_state::device_exclusive);
  mgr.reset_stats();
  auto v = hot.view();
  mgr.parallel_for(hot.size(), [=](std::size_t i) { v.store(i, 5); });
  mgr.synchronize();
  EXPECT_EQ(mgr.stats().device.count, 0u) << "no device fault on pinned pages";
  auto big = mgr.allocate<std::uint32_t>(8 * page / 4);
  EXPECT_THROW(mgr.pin_resident(big.data(), 8 * page, uvm::location::device()), uvm::out_of_memory);
  EXPECT_FALSE(mgr.range_attributes(big.data(), 8 * page).pinned);
  EXPECT_EQ(hot[0], 5u);
}

}  // namespace

// Launch residency, on the migrator itself: a rig wires it to the emulated device and to the CPU
// fault path as the runtime does, so the tests call make_resident directly, run "raw kernels"
// that use the returned pointer, and touch the ranges from the CPU.
namespace uvm::detail {
namespace {

using namespace std::chrono_literals;

std::uint32_t* words(const managed_range& r) {
  return reinterpret_cast<std::uint32_t*>(r.base());
}
std::uint32_t pattern(std::uint32_t tag, std::size_t word) {
  return (tag << 24) | static_cast<std::uint32_t>(word);
}
// Through the app view: CPU faults as needed.
void fill(const managed_range& r, std::size_t pages, std::uint32_t tag) {
  for (std::size_t i = 0; i < pages * words_per_page; ++i) words(r)[i] = pattern(tag, i);
}
// @return the first word index where `p` does not hold `tag`'s pattern, or `pages * words`.
std::size_t first_mismatch(const std::uint32_t* p, std::size_t pages, std::uint32_t tag) {
  for (std::size_t i = 0; i < pages * words_per_page; ++i) {
    if (p[i] != pattern(tag, i)) return i;
  }
  return pages * words_per_page;
}
std::uint64_t cpu_faults(const counters& c) {
  return c.snapshot().cpu_faults();
}

TEST(MakeResident, ScatteredPagesLandInContiguousFramesInPageOrder) {
  device_rig rig(16);
  managed_range& a = rig.allocate(4);
  managed_range& b = rig.allocate(4);
  fill(a, 4, 0xa);
  fill(b, 4, 0xb);
  for (std::size_t p = 0; p < 4; ++p) {  // frames: a0 b0 a1 b1 a2 b2 a3 b3
    ASSERT_EQ(rig.mig.prefetch(a, p, 1, true), 1u);
    ASSERT_EQ(rig.mig.prefetch(b, p, 1, true), 1u);
  }
  ASSERT_EQ(pte_frame(a.device().slots[0].ptes[1]), 2u) << "the pages are interleaved";

  auto* d = reinterpret_cast<std::uint32_t*>(rig.mig.make_resident(a, 0, 4, true));
  EXPECT_EQ(first_mismatch(d, 4, 0xa), 4 * words_per_page);
  for (std::size_t p = 0; p < 4; ++p) {
    const device_pte e = a.device().slots[0].ptes[p];
    EXPECT_EQ(pte_frame(e), pte_frame(a.device().slots[0].ptes[0]) + p) << p;
    EXPECT_EQ(e & (pte_valid | pte_writable | pte_dirty | pte_remote),
              pte_valid | pte_writable | pte_dirty)
        << p;
    EXPECT_EQ(a.state_of(p), page_state::device_exclusive) << p;
  }
  EXPECT_EQ(pte_frame(a.device().slots[0].ptes[0]), 0u) << "the window that kept page 0 in place";

  // Placing it again moves nothing and gives the same pointer.
  const stats before = rig.stats.snapshot();
  EXPECT_EQ(reinterpret_cast<std::uint32_t*>(rig.mig.make_resident(a, 0, 4, true)), d);
  const stats after = rig.stats.snapshot();
  EXPECT_EQ(after.bytes_host_to_device, before.bytes_host_to_device);
  EXPECT_EQ(after.bytes_device_to_host, before.bytes_device_to_host);

  rig.launch(1, [](std::size_t, std::size_t) {});  // the launch the spans were placed for
  rig.synchronize();
  EXPECT_EQ(first_mismatch(words(b), 4, 0xb), 4 * words_per_page) << "the evicted pages";
  EXPECT_EQ(first_mismatch(words(a), 4, 0xa), 4 * words_per_page);
}

TEST(MakeResident, WrittenSpanComesBackToTheHostAfterARawKernel) {
  device_rig rig(64);
  constexpr std::size_t pages = 8;
  managed_range& a = rig.allocate(pages);
  fill(a, pages, 1);
  auto* d = reinterpret_cast<std::uint32_t*>(rig.mig.make_resident(a, 0, pages, true));
  EXPECT_EQ(a.state_of(0), page_state::device_exclusive) << "the host view is invalidated";
  rig.stats.reset();
  // The raw kernel rewrites every word slowly; the CPU reads while it runs and must wait.
  std::atomic<bool> started{false};
  rig.launch(pages, [d, &started](std::size_t begin, std::size_t end) {
    started = true;
    for (std::size_t p = begin; p < end; ++p) {
      std::this_thread::sleep_for(5ms);
      for (std::size_t i = p * words_per_page; i < (p + 1) * words_per_page; ++i) {
        d[i] = pattern(2, i);
      }
    }
  });
  while (!started) std::this_thread::yield();
  EXPECT_EQ(first_mismatch(words(a), pages, 2), pages * words_per_page);
  rig.synchronize();
  const stats s = rig.stats.snapshot();
  EXPECT_GT(s.cpu_faults(), 0u);
  EXPECT_EQ(s.bytes_device_to_host, pages * page_bytes) << "every page was dirty";
  EXPECT_EQ(a.state_of(pages - 1), page_state::host_exclusive);
}

TEST(MakeResident, ReadSpanStaysReadableOnTheHostAndNothingComesBack) {
  device_rig rig(64);
  constexpr std::size_t pages = 8;
  managed_range& a = rig.allocate(pages);
  fill(a, pages, 3);
  rig.stats.reset();
  auto* d = reinterpret_cast<const std::uint32_t*>(rig.mig.make_resident(a, 0, pages, false));
  EXPECT_EQ(rig.stats.snapshot().bytes_host_to_device, pages * page_bytes);
  for (std::size_t p = 0; p < pages; ++p) {
    EXPECT_EQ(a.state_of(p), page_state::shared) << p;
    EXPECT_EQ(a.device().slots[0].ptes[p] & (pte_valid | pte_writable | pte_dirty), pte_valid) << p;
  }
  std::atomic<std::size_t> mismatch{0};
  rig.launch(1,
             [d, &mismatch](std::size_t, std::size_t) { mismatch = first_mismatch(d, pages, 3); });
  rig.synchronize();
  EXPECT_EQ(mismatch.load(), pages * words_per_page);
  rig.stats.reset();
  EXPECT_EQ(first_mismatch(words(a), pages, 3), pages * words_per_page);
  words(a)[5] = 5;  // a write drops the duplicate; a clean frame is not copied back
  const stats s = rig.stats.snapshot();
  EXPECT_EQ(s.cpu_faults(), 1u) << "the write, not the reads";
  EXPECT_EQ(s.bytes_device_to_host, 0u);
  EXPECT_EQ(a.state_of(0), page_state::host_exclusive);
  EXPECT_EQ(a.state_of(1), page_state::shared);
}

TEST(MakeResident, ReadAfterWriteInPlaceCopiesTheKernelsDataBackAndKeepsTheFrames) {
  device_rig rig(64);
  constexpr std::size_t pages = 4;
  managed_range& a = rig.allocate(pages);
  fill(a, pages, 4);
  auto* d = reinterpret_cast<std::uint32_t*>(rig.mig.make_resident(a, 0, pages, true));
  rig.launch(1, [d](std::size_t, std::size_t) {
    for (std::size_t i = 0; i < pages * words_per_page; ++i) d[i] = pattern(5, i);
  });
  rig.synchronize();
  rig.stats.reset();
  EXPECT_EQ(reinterpret_cast<std::uint32_t*>(rig.mig.make_resident(a, 0, pages, false)), d);
  stats s = rig.stats.snapshot();
  EXPECT_EQ(s.bytes_device_to_host, pages * page_bytes) << "the kernel's data, to the host copy";
  EXPECT_EQ(s.bytes_host_to_device, 0u) << "the frames stay";
  EXPECT_EQ(a.state_of(0), page_state::shared);
  EXPECT_EQ(first_mismatch(words(a), pages, 5), pages * words_per_page);
  EXPECT_EQ(rig.stats.snapshot().cpu_faults(), 0u);
}

TEST(MakeResident, FullPoolIsEvictedForTheWindowAndDirtyPagesSurvive) {
  device_rig rig(8);
  managed_range& b = rig.allocate(8);
  fill(b, 8, 6);
  auto* db = reinterpret_cast<std::uint32_t*>(rig.mig.make_resident(b, 0, 8, true));
  rig.launch(1, [db](std::size_t, std::size_t) {
    for (std::size_t i = 0; i < 8 * words_per_page; ++i) db[i] = pattern(7, i);
  });
  rig.synchronize();
  rig.stats.reset();

  managed_range& a = rig.allocate(4);  // never touched: first touches, zero-filled
  auto* da = reinterpret_cast<std::uint32_t*>(rig.mig.make_resident(a, 0, 4, true));
  for (std::size_t i = 0; i < 4 * words_per_page; ++i) ASSERT_EQ(da[i], 0u) << i;
  const stats s = rig.stats.snapshot();
  EXPECT_EQ(s.evictions, 4u);
  EXPECT_EQ(s.bytes_device_to_host, 4 * page_bytes) << "the evicted pages were dirty";
  std::size_t evicted = 0;
  for (std::size_t p = 0; p < 8; ++p) evicted += b.state_of(p) == page_state::host_exclusive;
  EXPECT_EQ(evicted, 4u);
  rig.launch(1, [](std::size_t, std::size_t) {});
  rig.synchronize();
  EXPECT_EQ(first_mismatch(words(b), 8, 7), 8 * words_per_page)
      << "nothing the kernel wrote is lost";
  for (std::size_t i = 0; i < 4 * words_per_page; ++i) ASSERT_EQ(words(a)[i], 0u) << i;
}

TEST(MakeResident, SpansOfOneLaunchDoNotEvictEachOther) {
  device_rig rig(8);
  managed_range& a = rig.allocate(4);
  managed_range& b = rig.allocate(4);
  managed_range& c = rig.allocate(6);
  fill(a, 4, 8);
  fill(b, 4, 9);
  std::byte* da = rig.mig.make_resident(a, 0, 4, true);
  std::byte* db = rig.mig.make_resident(b, 0, 4, false);
  EXPECT_TRUE(db >= da + 4 * page_bytes || da >= db + 4 * page_bytes) << "disjoint windows";
  EXPECT_THROW((void)rig.mig.make_resident(c, 0, 6, true), uvm::out_of_memory);
  EXPECT_EQ(a.state_of(3), page_state::device_exclusive) << "the declared spans stay";
  EXPECT_EQ(b.state_of(3), page_state::shared);
  EXPECT_EQ(c.state_of(0), page_state::unpopulated);
  // The throw called the launch off: nothing is declared any more, c may evict.
  EXPECT_NE(rig.mig.make_resident(c, 0, 6, true), nullptr);
  rig.mig.forget_declared();
  EXPECT_EQ(rig.mig.make_resident(a, 0, 4, true), rig.mig.make_resident(a, 0, 4, true));
  EXPECT_EQ(first_mismatch(words(a), 4, 8), 4 * words_per_page);
  EXPECT_EQ(first_mismatch(words(b), 4, 9), 4 * words_per_page);
}

TEST(MakeResident, TooLargeOrBlockedByPinsIsOutOfMemoryAndChangesNothing) {
  device_rig rig(8);
  managed_range& a = rig.allocate(9);
  fill(a, 9, 10);
  rig.stats.reset();
  EXPECT_THROW((void)rig.mig.make_resident(a, 0, 9, true), uvm::out_of_memory);
  EXPECT_EQ(rig.stats.snapshot().bytes_host_to_device, 0u);
  EXPECT_EQ(a.state_of(0), page_state::host_exclusive);

  // Frames 0-2 hold x, frame 3 a page pinned to the device: every window of 5 holds frame 3.
  managed_range& x = rig.allocate(3);
  managed_range& pinned = rig.allocate(1);
  fill(x, 3, 11);
  ASSERT_EQ(rig.mig.prefetch(x, 0, 3, true), 3u);
  rig.mig.pin(pinned, 0, 1, true);
  ASSERT_EQ(pte_frame(pinned.device().slots[0].ptes[0]), 3u);
  rig.stats.reset();
  try {
    (void)rig.mig.make_resident(a, 0, 5, true);
    ADD_FAILURE() << "no error";
  } catch (const uvm::out_of_memory& e) {
    EXPECT_NE(std::string(e.what()).find("pinned"), std::string::npos) << e.what();
  }
  EXPECT_EQ(rig.stats.snapshot().bytes_host_to_device + rig.stats.snapshot().bytes_device_to_host,
            0u);
  EXPECT_EQ(x.state_of(0), page_state::device_exclusive);
  EXPECT_EQ(a.state_of(4), page_state::host_exclusive);
  auto* d = reinterpret_cast<std::uint32_t*>(rig.mig.make_resident(a, 0, 4, true));
  EXPECT_EQ(pte_frame(a.device().slots[0].ptes[0]), 4u) << "the window after the pinned frame";
  EXPECT_EQ(first_mismatch(d, 4, 10), 4 * words_per_page);
  EXPECT_EQ(pinned.state_of(0), page_state::device_exclusive);
  rig.launch(1, [](std::size_t, std::size_t) {});
  rig.synchronize();
  EXPECT_EQ(first_mismatch(words(a), 9, 10), 9 * words_per_page);
  EXPECT_EQ(first_mismatch(words(x), 3, 11), 3 * words_per_page);
}

TEST(MakeResident, DevicePinnedPagesOfTheSpanStayPinned) {
  device_rig rig(8);
  managed_range& x = rig.allocate(2);
  managed_range& a = rig.allocate(4);
  ASSERT_EQ(rig.mig.prefetch(x, 0, 2, true), 2u);  // frames 0-1
  fill(a, 4, 12);
  rig.mig.pin(a, 1, 1, true);  // page 1 in frame 2: the window keeping it there starts on x's
  ASSERT_EQ(pte_frame(a.device().slots[0].ptes[1]), 2u);
  auto* d = reinterpret_cast<std::uint32_t*>(rig.mig.make_resident(a, 0, 4, false));
  EXPECT_EQ(first_mismatch(d, 4, 12), 4 * words_per_page);
  EXPECT_EQ(pte_frame(a.device().slots[0].ptes[1]), 2u) << "the pinned page did not move";
  EXPECT_EQ(x.state_of(1), page_state::host_exclusive) << "evicted for page 0";
  EXPECT_NE(a.pages().load(1) & pinned_bit, 0u);
  EXPECT_EQ(a.pages().load(0) & pinned_bit, 0u);
  EXPECT_EQ(a.state_of(1), page_state::shared);
}

TEST(MakeResident, HostPinnedPagesAndBadSpansAreRefused) {
  device_rig rig(8);
  managed_range& a = rig.allocate(4);
  fill(a, 4, 13);
  rig.mig.pin(a, 2, 1, false);
  try {
    (void)rig.mig.make_resident(a, 0, 4, true);
    ADD_FAILURE() << "no error";
  } catch (const uvm::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("pinned to the host"), std::string::npos) << e.what();
  }
  EXPECT_EQ(a.state_of(0), page_state::host_exclusive);
  rig.mig.unpin(a, 2, 1);
  EXPECT_NE(rig.mig.make_resident(a, 0, 4, true), nullptr);
  EXPECT_THROW((void)rig.mig.make_resident(a, 0, 0, true), uvm::invalid_argument);
  EXPECT_THROW((void)rig.mig.make_resident(a, 2, 3, true), uvm::invalid_argument);
  EXPECT_THROW((void)rig.mig.make_resident(a, 4, 1, true), uvm::invalid_argument);
}

TEST(MakeResident, RemotePagesMoveIntoFrames) {
  device_rig rig(8);
  managed_range& a = rig.allocate(2);
  fill(a, 2, 14);
  a.advise(0, 2, advice::set_preferred_location, location::host());
  device_view<std::uint32_t> v(a.device(), 2 * words_per_page);
  rig.launch(2 * words_per_page, [v](std::size_t begin, std::size_t end) {
    for (std::size_t i = begin; i < end; ++i) v.store(i, v.load(i) + 1);
  });
  rig.synchronize();
  ASSERT_EQ(a.state_of(0), page_state::remote);
  auto* d = reinterpret_cast<std::uint32_t*>(rig.mig.make_resident(a, 0, 2, true));
  EXPECT_EQ(a.state_of(0), page_state::device_exclusive);
  EXPECT_EQ(a.device().slots[0].ptes[1] & pte_remote, 0u);
  for (std::size_t i = 0; i < 2 * words_per_page; ++i) ASSERT_EQ(d[i], pattern(14, i) + 1) << i;
  rig.launch(1, [](std::size_t, std::size_t) {});
  rig.synchronize();
  for (std::size_t i = 0; i < 2 * words_per_page; ++i) {
    ASSERT_EQ(words(a)[i], pattern(14, i) + 1) << i;
  }
}

TEST(Migrator, AFaultRecordServedBeforeItArrivesLosesNoStoreOfItsKernel) {
  // Lanes post a record again when theirs may have been lost, so a record can reach the service
  // after its fault was served, even after its kernel ended. The entry already serves it; were
  // it published again from the host's shadow (the kernel's dirty bit is only on the device:
  // another kernel that may use the range kept the bits from being read), the page would look
  // clean, and moving it to the host would drop the kernel's store.
  device_rig rig(8);
  managed_range& a = rig.allocate(2);
  fill(a, 2, 3);
  std::atomic<bool> release{false};
  const stream other = rig.dev.create_stream("other");
  const page_use page1 = migrator::pages_of(a, 1, 1);
  rig.launch_until_released(other, {&page1, 1}, true, release, 10s);  // may use page 1 only
  device_view<std::uint32_t> v(a.device(), words_per_page);
  const stream& s = rig.mig.default_stream();
  const auto writer = rig.mig.begin_launch(s, {}, false);
  rig.dev.launch(
      1, [v](std::size_t, std::size_t) { v.store(0, v.load(0) + 1); }, s);
  const event wrote = rig.dev.record(s);
  rig.mig.end_launch(writer, wrote);
  ASSERT_TRUE(rig.dev.wait(wrote, 10s));
  const fault_record late{a.device().range_id, 0, device_access::write, 0, 0};
  rig.mig.resolve_device({&late, 1});
  release = true;
  rig.synchronize();
  EXPECT_EQ(rig.mig.prefetch(a, 0, 1, false), 1u);
  EXPECT_EQ(words(a)[0], pattern(3, 0) + 1) << "the kernel's store was lost";
}

TEST(MakeResident, WaitsForTheKernelInFlight) {
  device_rig rig(8);
  managed_range& a = rig.allocate(2);
  std::atomic<bool> done{false};
  rig.launch(1, [&done](std::size_t, std::size_t) {
    std::this_thread::sleep_for(200ms);
    done = true;
  });
  EXPECT_NE(rig.mig.make_resident(a, 0, 2, true), nullptr);
  EXPECT_TRUE(done.load()) << "placed only after the kernel";
}

TEST(MakeResident, AKernelThatNeverEndsIsATimeout) {
  device_rig rig(8, 300ms);
  managed_range& a = rig.allocate(2);
  fill(a, 2, 15);
  std::atomic<bool> release{false};
  rig.launch(1, [&release](std::size_t, std::size_t) {
    while (!release) std::this_thread::sleep_for(1ms);
  });
  const auto start = std::chrono::steady_clock::now();
  try {
    (void)rig.mig.make_resident(a, 0, 2, true);
    ADD_FAILURE() << "no error";
  } catch (const uvm::timeout& e) {
    EXPECT_NE(std::string(e.what()).find("kernels still running"), std::string::npos) << e.what();
  }
  EXPECT_GE(std::chrono::steady_clock::now() - start, 300ms);
  EXPECT_EQ(a.state_of(0), page_state::host_exclusive);
  release = true;
  rig.synchronize();
  EXPECT_EQ(first_mismatch(words(a), 2, 15), 2 * words_per_page);
}

}  // namespace
}  // namespace uvm::detail
