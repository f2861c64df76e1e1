// Stress: CPU threads, a relaunching kernel thread and a prefetching thread on one range at
// once, with and without oversubscription, at 4 KiB and 64 KiB pages. Every counter is checked:
// a lost write on either side fails. UVM_STRESS_SECONDS (default 2) sets how long each case runs.
#include "tests/migration/emulated_config.hpp"

#include <uvm/uvm.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <random>
#include <string>
#include <thread>
#include <vector>

namespace {

using namespace std::chrono_literals;

constexpr unsigned cpu_threads = 8;
constexpr std::size_t kernel_words = 8;  // per page, after the CPU threads' words

std::chrono::milliseconds stress_time() {
  const char* s = std::getenv("UVM_STRESS_SECONDS");
  const double seconds = s != nullptr ? std::atof(s) : 2.0;
  return std::chrono::milliseconds(static_cast<long>(seconds * 1000));
}

struct stress_case {
  std::size_t page_size;
  std::size_t pages;
  std::size_t budget_pages;  // < pages: oversubscribed
};

class Stress : public ::testing::TestWithParam<stress_case> {};

TEST_P(Stress, EveryIncrementFromEverySideSurvives) {
  const stress_case c = GetParam();
  uvm::manager mgr(uvm::testing::emulated(c.page_size, c.budget_pages * c.page_size));
  const std::size_t words_per_page = c.page_size / 4;
  auto a = mgr.allocate<std::uint32_t>(c.pages * words_per_page);
  std::uint32_t* w = a.data();
  auto v = a.view();
  std::atomic<bool> stop{false};
  const auto until = std::chrono::steady_clock::now() + stress_time();

  // CPU thread t increments word t of random pages, and counts what it did per page.
  std::vector<std::vector<std::uint32_t>> cpu_counts(cpu_threads,
                                                     std::vector<std::uint32_t>(c.pages));
  std::vector<std::thread> threads;
  for (unsigned t = 0; t < cpu_threads; ++t) {
    threads.emplace_back([&, t] {
      std::minstd_rand rng(t + 1);
      while (!stop) {
        const std::size_t p = rng() % c.pages;
        w[p * words_per_page + t] += 1;
        ++cpu_counts[t][p];
      }
    });
  }
  // Kernels increment words cpu_threads.. of every page, on two streams in turn.
  std::atomic<std::uint32_t> kernels{0};
  const uvm::stream streams[2] = {mgr.create_stream("stress-a"), mgr.create_stream("stress-b")};
  threads.emplace_back([&] {
    const std::size_t n = c.pages * kernel_words;
    while (!stop) {
      const uvm::stream& s = streams[kernels % 2];
      mgr.parallel_for(
          n,
          [=](std::size_t i) {
            const std::size_t at =
                (i / kernel_words) * words_per_page + cpu_threads + i % kernel_words;
            v.store(at, v.load(at) + 1);
          },
          s);
      mgr.synchronize(s);  // the next kernel's increments read this one's
      ++kernels;
    }
  });
  // Prefetches of random spans, both ways, on a stream of their own.
  std::atomic<std::uint64_t> prefetches{0};
  threads.emplace_back([&] {
    std::minstd_rand rng(99);
    const uvm::stream s = mgr.create_stream("stress-prefetch");
    while (!stop) {
      const std::size_t first = rng() % c.pages;
      const std::size_t count = 1 + rng() % std::min<std::size_t>(8, c.pages - first);
      const auto to = rng() % 2 != 0 ? uvm::location::device() : uvm::location::host();
      try {
        (void)mgr.prefetch(w + first * words_per_page, count * c.page_size, to, s);
      } catch (const uvm::timeout&) {
        // Back to the host waits for kernels; a bounded wait that ends is not a lost write.
      }
      ++prefetches;
    }
  });
  while (std::chrono::steady_clock::now() < until) std::this_thread::sleep_for(10ms);
  stop = true;
  for (auto& t : threads) t.join();
  mgr.synchronize();

  std::size_t lost_cpu = 0;
  std::size_t lost_kernel = 0;
  for (std::size_t p = 0; p < c.pages; ++p) {
    for (unsigned t = 0; t < cpu_threads; ++t) {
      lost_cpu += w[p * words_per_page + t] != cpu_counts[t][p];
    }
    for (std::size_t k = 0; k < kernel_words; ++k) {
      lost_kernel += w[p * words_per_page + cpu_threads + k] != kernels.load();
    }
  }
  EXPECT_EQ(lost_cpu, 0u);
  EXPECT_EQ(lost_kernel, 0u) << "after " << kernels.load() << " kernels";
  EXPECT_GT(kernels.load(), 0u);
  RecordProperty("kernels", static_cast<int>(kernels.load()));
  RecordProperty("prefetches", static_cast<int>(prefetches.load()));
}

INSTANTIATE_TEST_SUITE_P(Cases, Stress,
                         ::testing::Values(stress_case{64 << 10, 32, 64},
                                           stress_case{64 << 10, 32, 8},
                                           stress_case{4 << 10, 128, 256},
                                           stress_case{4 << 10, 128, 32}),
                         [](const auto& info) {
                           const stress_case& c = info.param;
                           return std::to_string(c.page_size >> 10) + "KiB" +
                                  (c.budget_pages < c.pages ? "_oversubscribed" : "_fits");
                         });

// The lost-race program: threads race to write the first word of a fresh range, which is then
// freed; mmap hands the same address back, so each thread loses races at one address again and
// again. None of it may be taken for a stray access.
TEST(StressLostRaces, LostFirstTouchRacesAtOneAddressNeverKill) {
  uvm::manager mgr(uvm::testing::emulated());
  constexpr unsigned n = 8;
  const int rounds = std::getenv("UVM_STRESS_SECONDS") != nullptr ? 20000 : 3000;
  std::atomic<int> round{-1};
  std::atomic<unsigned> done{0};
  std::atomic<int*> target{nullptr};
  std::vector<std::thread> threads;
  for (unsigned t = 0; t < n; ++t) {
    threads.emplace_back([&] {
      for (int r = 0; r < rounds; ++r) {
        while (round.load() < r) std::this_thread::yield();
        std::atomic_ref<int>(*target.load()).fetch_add(1);
        done.fetch_add(1);
      }
    });
  }
  for (int r = 0; r < rounds; ++r) {
    auto a = mgr.allocate<int>(16384);  // one 64 KiB page
    target = a.data();
    done = 0;
    round = r;
    while (done.load() < n) std::this_thread::yield();
    ASSERT_EQ(a[0], static_cast<int>(n));
  }
  for (auto& t : threads) t.join();
  RecordProperty("lost_races", static_cast<int>(mgr.stats().spurious_faults));
}

}  // namespace
