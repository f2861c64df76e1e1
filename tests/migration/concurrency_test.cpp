// CPU threads, kernels and prefetches at once, from the public headers: stores through remote
// mappings survive concurrent prefetches, and a CPU fault waits only for the kernels that were
// in flight when it arrived.
#include "tests/migration/emulated_config.hpp"

#include <uvm/uvm.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <thread>

namespace {

using namespace std::chrono_literals;
using uvm::testing::emulated;

TEST(Concurrency, StoresThroughRemoteMappingsSurvivePrefetchesToTheDevice) {
  uvm::manager mgr(emulated(64 << 10));
  constexpr std::size_t pages = 16;
  constexpr std::size_t per_page = (64 << 10) / 4;
  constexpr std::size_t words = 4;  // per page, each incremented by one kernel thread
  constexpr std::uint32_t reps = 200000;
  auto a = mgr.allocate<std::uint32_t>(pages * per_page);
  // accessed_by: device faults map the pages remote (the device uses the host pages).
  mgr.advise(a.data(), pages * per_page * 4, uvm::advice::set_accessed_by, uvm::location::device());
  auto v = a.view();
  const uvm::stream kernels = mgr.create_stream("kernels");
  const uvm::stream copies = mgr.create_stream("copies");
  std::atomic<bool> running{true};
  // Every page is stored to all through the kernel, while prefetches try to move it.
  mgr.parallel_for(
      pages * words,
      [=](std::size_t i) {
        const std::size_t at = (i / words) * per_page + i % words;
        for (std::uint32_t k = 0; k < reps; ++k) v.store(at, v.load(at) + 1);
      },
      kernels);
  std::thread kernel_end([&] {
    mgr.synchronize(kernels);
    running = false;
  });
  // Once the kernel runs on remote mappings of every page, prefetches try to pull them in.
  while (running && mgr.stats().remote_mappings < pages) std::this_thread::yield();
  ASSERT_TRUE(running.load()) << "the kernel ended before it mapped every page: make it longer";
  std::size_t prefetches = 0;
  while (running) {
    (void)mgr.prefetch(a.data(), pages * per_page * 4, uvm::location::device(), copies);
    ++prefetches;
  }
  kernel_end.join();
  std::size_t lost = 0;
  for (std::size_t i = 0; i < pages * words; ++i) {
    lost += reps - a[(i / words) * per_page + i % words];
  }
  EXPECT_EQ(lost, 0u) << "stores lost with " << prefetches << " prefetches during the kernel";
}

TEST(Concurrency, ALaunchAfterAWaitingCpuFaultStartsAfterItIsServed) {
  uvm::manager mgr(emulated());
  auto a = mgr.allocate<int>(1000);
  auto v = a.view();
  std::atomic<bool> written{false};
  std::atomic<bool> release{false};
  const uvm::stream first = mgr.create_stream("first");
  const uvm::stream second = mgr.create_stream("second");
  mgr.parallel_for(
      1,
      [=, &written, &release](std::size_t) {
        v.store(0, 1);  // the page is the device's now
        written = true;
        const auto end = std::chrono::steady_clock::now() + 5s;
        while (!release && std::chrono::steady_clock::now() < end) std::this_thread::yield();
      },
      first);
  while (!written) std::this_thread::yield();
  std::atomic<int> cpu_read{-1};
  std::thread cpu([&] { cpu_read = a[0]; });  // waits for the first kernel
  std::this_thread::sleep_for(100ms);
  std::atomic<bool> second_saw_served{false};
  std::thread launcher([&] {
    int* p = a.data();
    mgr.parallel_for(
        1,
        [&mgr, p, &second_saw_served](std::size_t) {
          const uvm::page_state s = mgr.state_of(p);  // the CPU read: the only copy, or a duplicate
          second_saw_served = s == uvm::page_state::host_exclusive || s == uvm::page_state::shared;
        },
        second);
  });
  std::this_thread::sleep_for(100ms);
  release = true;
  cpu.join();
  launcher.join();
  mgr.synchronize(first);
  mgr.synchronize(second);
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

}  // namespace
