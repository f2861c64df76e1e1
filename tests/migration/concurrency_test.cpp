// CPU threads, kernels and prefetches at once: stores through remote mappings survive concurrent
// prefetches (public headers), a launch after a waiting CPU fault waits for it (on the migrator,
// whose waits the test can see), and CPU threads progress beside a relaunching thread.
#include "tests/migration/device_rig.hpp"
#include "tests/migration/emulated_config.hpp"

#include <uvm/launch_scope.hpp>
#include <uvm/uvm.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <thread>
#include <vector>

namespace {

using namespace std::chrono_literals;
using uvm::testing::emulated;

TEST(Concurrency, StoresThroughRemoteMappingsSurvivePrefetchesToTheDevice) {
  uvm::manager mgr(emulated(64 << 10));
  constexpr std::size_t pages = 16;
  constexpr std::size_t per_page = (64 << 10) / 4;
  constexpr std::size_t words = 4;  // per page, each incremented by one kernel thread
  constexpr std::size_t lanes = pages * words;
  constexpr std::uint32_t reps = 1000;  // at least, per lane
  auto a = mgr.allocate<std::uint32_t>(pages * per_page);
  // accessed_by: device faults map the pages remote (the device uses the host pages).
  mgr.advise(a.data(), pages * per_page * 4, uvm::advice::set_accessed_by, uvm::location::device());
  auto v = a.view();
  const uvm::stream kernels = mgr.create_stream("kernels");
  const uvm::stream copies = mgr.create_stream("copies");
  // First every page is mapped remote, by a kernel that reads each once.
  mgr.parallel_for(
      pages, [=](std::size_t p) { (void)v.load(p * per_page); }, kernels);
  mgr.synchronize(kernels);
  ASSERT_GE(mgr.stats().remote_mappings, pages);
  // Then a kernel stores to every page through those mappings until the prefetches are done,
  // each lane counting its increments on the host.
  std::atomic<bool> stop{false};
  std::vector<std::uint32_t> done(lanes, 0);
  const std::atomic<bool>* stop_at = &stop;
  std::uint32_t* done_at = done.data();
  mgr.parallel_for(
      lanes,
      [=](std::size_t i) {
        const std::size_t at = (i / words) * per_page + i % words;
        const auto bound = std::chrono::steady_clock::now() + 20s;
        std::uint32_t k = 0;
        for (; k < reps || (!stop_at->load() && std::chrono::steady_clock::now() < bound); ++k) {
          v.store(at, v.load(at) + 1);
        }
        done_at[i] = k;
      },
      kernels);
  // Prefetches try to pull the pages in while the kernel stores (it runs until `stop`).
  constexpr int prefetches = 20;
  for (int n = 0; n < prefetches; ++n) {
    mgr.prefetch(a.data(), pages * per_page * 4, uvm::location::device(), copies);
  }
  mgr.synchronize(copies);
  stop = true;
  mgr.synchronize(kernels);
  std::size_t lost = 0;
  for (std::size_t i = 0; i < lanes; ++i) lost += done[i] - a[(i / words) * per_page + i % words];
  EXPECT_EQ(lost, 0u) << "stores lost with " << prefetches << " prefetches during the kernel";
}

// On the migrator (tests/migration/device_rig.hpp), which shows when the CPU fault waits for
// the kernel and when the later launch has arrived and is held back.
TEST(Concurrency, ALaunchAfterAWaitingCpuFaultStartsAfterItIsServed) {
  using namespace uvm::detail;
  device_rig rig(8);
  managed_range& a = rig.allocate(1);
  reinterpret_cast<std::uint32_t*>(a.base())[0] = 1;
  ASSERT_NE(rig.mig.make_resident(a, 0, 1, true), nullptr);  // the page is the device's now
  const stream first = rig.dev.create_stream("first");
  const stream second = rig.dev.create_stream("second");
  std::atomic<bool> release{false};
  rig.launch_until_released(first, {}, false, release, 5s);
  const std::uint64_t waiting_before = rig.tap.waiting_batches();
  std::atomic<int> cpu_read{-1};
  std::thread cpu(
      [&] { cpu_read = static_cast<int>(reinterpret_cast<std::uint32_t*>(a.base())[0]); });
  // The CPU fault waits for the first kernel, and launches that may use its page wait for it.
  const auto end = std::chrono::steady_clock::now() + 10s;
  while (rig.tap.waiting_batches() == waiting_before && std::chrono::steady_clock::now() < end) {
    std::this_thread::yield();
  }
  ASSERT_GT(rig.tap.waiting_batches(), waiting_before) << "the CPU fault never waited";
  std::atomic<bool> second_saw_served{false};
  const kernel_epochs::ticket arrival = rig.mig.next_ticket();
  std::thread launcher([&] {
    const auto t = rig.mig.begin_launch(second, {}, false);
    rig.dev.launch(
        1,
        [&a, &second_saw_served](std::size_t, std::size_t) {
          const uvm::page_state s = a.state_of(0);  // the CPU read: the only copy, or a duplicate
          second_saw_served = s == uvm::page_state::host_exclusive || s == uvm::page_state::shared;
        },
        second);
    rig.mig.end_launch(t, rig.dev.record(second));
  });
  // The launch has arrived (taken its ticket); it must be held back, not admitted.
  while (rig.mig.next_ticket() == arrival && std::chrono::steady_clock::now() < end) {
    std::this_thread::yield();
  }
  ASSERT_GT(rig.mig.next_ticket(), arrival) << "the launch never arrived";
  EXPECT_FALSE(rig.mig.in_use(migrator::pages_of(a, 0, 1), {first.get()}))
      << "the later launch was admitted while the CPU fault waited";
  release = true;
  cpu.join();
  launcher.join();
  rig.synchronize();
  EXPECT_EQ(cpu_read.load(), 1);
  EXPECT_TRUE(second_saw_served.load()) << "the later launch overtook the waiting CPU fault";
}

TEST(Concurrency, CpuThreadsBesideARelaunchingThreadMakeProgress) {
  uvm::manager mgr(emulated());
  auto a = mgr.allocate<std::uint32_t>(1 << 16);  // 4 pages
  auto v = a.view();
  std::atomic<bool> stop{false};
  std::thread relauncher([&] {
    while (!stop) {
      mgr.parallel_for(4, [=](std::size_t i) { v.store(i * 16384 + 100, i); });
      mgr.synchronize();
    }
  });
  constexpr int threads = 4;
  constexpr int ops = 300;
  std::vector<std::thread> cpu;
  for (int t = 0; t < threads; ++t) {
    cpu.emplace_back([&, t] {
      for (int k = 0; k < ops; ++k) a[static_cast<std::size_t>(t) * 16384 + 7] += 1;
    });
  }
  for (auto& t : cpu) t.join();
  stop = true;
  relauncher.join();
  for (int t = 0; t < threads; ++t) EXPECT_EQ(a[static_cast<std::size_t>(t) * 16384 + 7], ops);
}

// A range allocated while a kernel may run is registered once no kernel can run: the streams that
// take work after the allocation get a gate that holds it, and the registration waits for what is
// ahead of those gates. Here a prefetch queued before the allocation waits for a launch scope's
// kernel; a launch after the allocation puts the gate ahead of that prefetch on its stream, and
// another (the scope still open past the patience) the gate ahead of the scope's kernel on the
// scope's stream. Before the fix the registration waited for the prefetch, the prefetch for the
// scope's kernel and the kernel for the registration, until the fault timeout.
TEST(Concurrency, AQueuedMoveAheadOfARegistrationGateDoesNotWaitForAKernelBehindOne) {
  constexpr std::size_t page = 64 << 10;
  constexpr std::size_t per_page = page / 4;
  constexpr std::size_t pages = 4;
  uvm::config cfg = emulated(page);
  cfg.fault_timeout = 30s;
  uvm::manager mgr(cfg);
  const uvm::stream moves = mgr.create_stream("moves");
  const uvm::stream kernels = mgr.create_stream("kernels");
  auto a = mgr.allocate<std::uint32_t>(pages * per_page);
  for (std::size_t p = 0; p < pages; ++p) a[p * per_page] = static_cast<std::uint32_t>(p + 1);
  const auto v = a.view();

  uvm::launch_scope scope = mgr.begin_launch({}, kernels);  // may use every page of `a`
  mgr.prefetch(a.bytes(), uvm::location::host(), moves);    // waits for the scope's kernel
  auto b = mgr.allocate<std::uint32_t>(per_page);           // registered once no kernel runs
  const auto w = b.view();
  // Declared on `b`, so the prefetch (on `a`) holds neither back.
  mgr.parallel_for(1, [=](std::size_t) { w.store(0, 7); }, moves, {uvm::writes(b)});
  mgr.parallel_for(1, [=](std::size_t) { w.store(1, 8); }, kernels, {uvm::writes(b)});
  scope.parallel_for(pages,
                     [=](std::size_t p) { v.store(p * per_page, v.load(p * per_page) + 1); });
  scope.end();

  // Well within the fault timeout: the cycle lasted until it.
  EXPECT_NO_THROW(mgr.synchronize({}, 10s));
  for (std::size_t p = 0; p < pages; ++p) EXPECT_EQ(a[p * per_page], p + 2) << "page " << p;
  EXPECT_EQ(b[0], 7u);
  EXPECT_EQ(b[1], 8u);
}

}  // namespace
