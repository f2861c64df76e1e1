// Thrust algorithms on managed ranges in launch-residency mode (uvm/thrust.hpp), compiled by the
// host compiler with Thrust's CPP systems and run on the emulated device: results checked
// against std:: on copies, then the pages' states as launch residency promises, then the CPU
// brings the data back. Few element types: Thrust's sort is heavy to instantiate.
#include "tests/migration/emulated_config.hpp"

#include <uvm/thrust.hpp>
#include <uvm/uvm.hpp>

#include <thrust/reduce.h>
#include <thrust/scan.h>
#include <thrust/sort.h>
#include <thrust/transform.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <numeric>
#include <random>
#include <stdexcept>
#include <thread>
#include <utility>
#include <vector>

namespace {

using uvm::testing::emulated;
using namespace std::chrono_literals;
constexpr std::size_t page = 64 << 10;

// Every page overlapping [p, p + bytes) is in state `want`.
void expect_pages(const uvm::manager& mgr, const void* p, std::size_t bytes, uvm::page_state want) {
  const std::size_t size = mgr.configuration().page_size;
  const auto* b = static_cast<const std::byte*>(p);
  for (std::size_t off = 0; off < bytes; off += size) {
    ASSERT_EQ(mgr.state_of(b + off), want)
        << "page at byte " << off << " is " << uvm::to_string(mgr.state_of(b + off));
  }
}

template <class T>
std::size_t bytes_of(const uvm::typed_range<T>& r) {
  return r.size() * sizeof(T);
}

std::vector<std::uint32_t> random_keys(std::size_t n, std::uint32_t seed) {
  std::mt19937 gen(seed);
  std::vector<std::uint32_t> v(n);
  for (std::uint32_t& x : v) x = static_cast<std::uint32_t>(gen());
  return v;
}

TEST(Thrust, SortLeavesTheSpanOnTheDeviceUntilTheCpuTouchesIt) {
  uvm::manager mgr(emulated(page));
  constexpr std::size_t n = std::size_t{1} << 20;  // 4 MiB, 64 pages
  auto keys = mgr.allocate<std::uint32_t>(n);
  std::vector<std::uint32_t> want = random_keys(n, 1);
  std::copy(want.begin(), want.end(), keys.begin());
  std::sort(want.begin(), want.end());
  {
    uvm::launch_scope scope = mgr.begin_launch({uvm::writes(keys)});
    std::uint32_t* d = scope.device_pointer(keys.data());
    thrust::sort(uvm::thrust::par(scope), d, d + n);
  }
  mgr.synchronize();
  mgr.reset_stats();
  expect_pages(mgr, keys.data(), bytes_of(keys), uvm::page_state::device_exclusive);
  EXPECT_EQ(mgr.stats().bytes_device_to_host, 0u) << "nothing comes back before a CPU access";
  for (std::size_t i = 0; i < n; ++i) ASSERT_EQ(keys[i], want[i]) << i;
  EXPECT_EQ(mgr.stats().bytes_device_to_host, n * sizeof(std::uint32_t)) << "every page, once";
  // Back on the host: a read duplicate under userfaultfd, host_exclusive under signals.
  for (std::size_t off = 0; off < bytes_of(keys); off += page) {
    const uvm::page_state st = mgr.state_of(keys.data() + off / sizeof(std::uint32_t));
    ASSERT_TRUE(st == uvm::page_state::shared || st == uvm::page_state::host_exclusive)
        << off << ": " << uvm::to_string(st);
  }
  mgr.reset_stats();
  EXPECT_TRUE(std::equal(want.begin(), want.end(), keys.begin()));
  EXPECT_EQ(mgr.stats().cpu_faults(), 0u) << "read again without a fault";
}

TEST(Thrust, ReduceLeavesTheReadSpanReadableOnTheHost) {
  uvm::manager mgr(emulated(page));
  constexpr std::size_t n = std::size_t{1} << 18;  // 1 MiB, 16 pages
  auto x = mgr.allocate<std::uint32_t>(n);
  const std::vector<std::uint32_t> copy = random_keys(n, 2);
  std::copy(copy.begin(), copy.end(), x.begin());
  std::uint64_t sum = 0;
  {
    uvm::launch_scope scope = mgr.begin_launch({uvm::reads(x)});
    const std::uint32_t* d = scope.device_pointer(static_cast<const std::uint32_t*>(x.data()));
    sum = thrust::reduce(uvm::thrust::par(scope), d, d + n, std::uint64_t{0});
  }
  mgr.synchronize();
  EXPECT_EQ(sum, std::accumulate(copy.begin(), copy.end(), std::uint64_t{0}));
  expect_pages(mgr, x.data(), bytes_of(x), uvm::page_state::shared);
  mgr.reset_stats();
  for (std::size_t i = 0; i < n; ++i) ASSERT_EQ(x[i], copy[i]) << i;
  EXPECT_EQ(mgr.stats().cpu_faults(), 0u) << "a read span keeps its host mapping";
  EXPECT_EQ(mgr.stats().bytes_device_to_host, 0u);
}

TEST(Thrust, TransformReadsOneRangeAndWritesAnother) {
  uvm::manager mgr(emulated(page));
  constexpr std::size_t n = std::size_t{1} << 18;
  auto in = mgr.allocate<std::uint32_t>(n);
  auto out = mgr.allocate<std::uint32_t>(n);
  const std::vector<std::uint32_t> copy = random_keys(n, 3);
  std::copy(copy.begin(), copy.end(), in.begin());
  const auto f = [](std::uint32_t v) { return v * 3u + 1u; };
  {
    uvm::launch_scope scope = mgr.begin_launch({uvm::reads(in), uvm::writes(out)});
    const std::uint32_t* x = scope.device_pointer(static_cast<const std::uint32_t*>(in.data()));
    std::uint32_t* y = scope.device_pointer(out.data());
    thrust::transform(uvm::thrust::par(scope), x, x + n, y, f);
  }
  mgr.synchronize();
  expect_pages(mgr, in.data(), bytes_of(in), uvm::page_state::shared);
  expect_pages(mgr, out.data(), bytes_of(out), uvm::page_state::device_exclusive);
  mgr.reset_stats();
  for (std::size_t i = 0; i < n; ++i) ASSERT_EQ(in[i], copy[i]) << i;
  EXPECT_EQ(mgr.stats().cpu_faults(), 0u);
  std::vector<std::uint32_t> want(n);
  std::transform(copy.begin(), copy.end(), want.begin(), f);
  for (std::size_t i = 0; i < n; ++i) ASSERT_EQ(out[i], want[i]) << i;
  EXPECT_EQ(mgr.stats().bytes_device_to_host, n * sizeof(std::uint32_t));
}

TEST(Thrust, InclusiveScanInPlaceOverPartOfARange) {
  constexpr std::size_t small = 4096;
  uvm::manager mgr(emulated(small));
  constexpr std::size_t per_page = small / sizeof(std::uint32_t);
  constexpr std::size_t pages = 64, first = 8, count = 32;  // the scan covers pages 8..39
  auto a = mgr.allocate<std::uint32_t>(pages * per_page);
  const std::vector<std::uint32_t> copy = random_keys(a.size(), 4);
  std::copy(copy.begin(), copy.end(), a.begin());
  std::uint32_t* const part = a.data() + first * per_page;
  constexpr std::size_t m = count * per_page;
  {
    uvm::launch_scope scope = mgr.begin_launch({uvm::writes(part, m * sizeof(std::uint32_t))});
    std::uint32_t* d = scope.device_pointer(part);
    thrust::inclusive_scan(uvm::thrust::par(scope), d, d + m, d);
  }
  mgr.synchronize();
  expect_pages(mgr, a.data(), first * small, uvm::page_state::host_exclusive);
  expect_pages(mgr, part, count * small, uvm::page_state::device_exclusive);
  expect_pages(mgr, part + m, (pages - first - count) * small, uvm::page_state::host_exclusive);
  std::vector<std::uint32_t> want = copy;
  std::inclusive_scan(copy.begin() + first * per_page, copy.begin() + (first + count) * per_page,
                      want.begin() + first * per_page);
  mgr.reset_stats();
  for (std::size_t i = 0; i < a.size(); ++i) ASSERT_EQ(a[i], want[i]) << i;
  EXPECT_EQ(mgr.stats().bytes_device_to_host, count * small) << "only the scanned pages";
}

// The algorithm takes its place in the stream's order: after a kernel enqueued before it (slow
// to write its first chunk), before one enqueued after it; two algorithms in one epoch.
TEST(Thrust, AlgorithmsRunInTheStreamsOrderInsideTheEpoch) {
  uvm::manager mgr(emulated(page));
  uvm::stream s = mgr.create_stream("thrust");
  constexpr std::size_t n = std::size_t{1} << 16;
  auto a = mgr.allocate<std::uint32_t>(n);
  std::uint64_t sum = 0;
  {
    uvm::launch_scope scope = mgr.begin_launch({uvm::writes(a)}, s);
    std::uint32_t* d = scope.device_pointer(a.data());
    scope.parallel_for(n, [d](std::size_t i) {
      if (i == 0) std::this_thread::sleep_for(200ms);
      d[i] = static_cast<std::uint32_t>(n - i);
    });
    thrust::sort(uvm::thrust::par(scope), d, d + n);
    sum = thrust::reduce(uvm::thrust::par(scope), d, d + n, std::uint64_t{0});
    scope.parallel_for(n, [d](std::size_t i) { d[i] += 1; });
  }
  mgr.synchronize(s);
  EXPECT_EQ(sum, std::uint64_t{n} * (n + 1) / 2);
  for (std::size_t i = 0; i < n; ++i) ASSERT_EQ(a[i], i + 2) << i;
}

// The stream stays held while the algorithm runs: a kernel enqueued after a slow algorithm runs
// after it, whatever the workers are doing.
TEST(Thrust, WorkEnqueuedAfterTheAlgorithmWaitsForIt) {
  uvm::manager mgr(emulated(page));
  constexpr std::size_t n = 4 * page / sizeof(std::uint32_t);
  auto a = mgr.allocate<std::uint32_t>(n);
  {
    uvm::launch_scope scope = mgr.begin_launch({uvm::writes(a)});
    std::uint32_t* d = scope.device_pointer(a.data());
    std::atomic<bool> running{false};
    const auto slow_ones = [first = true, &running](std::uint32_t) mutable -> std::uint32_t {
      if (std::exchange(first, false)) {
        running = true;
        std::this_thread::sleep_for(200ms);
      }
      return 1;
    };
    std::thread later([&] {  // enqueues the next kernel while the algorithm sleeps
      const auto end = std::chrono::steady_clock::now() + 10s;
      while (!running && std::chrono::steady_clock::now() < end) std::this_thread::yield();
      scope.parallel_for(n, [d](std::size_t i) { d[i] += 1; });
    });
    thrust::transform(uvm::thrust::par(scope), d, d + n, d, slow_ones);
    later.join();
  }
  mgr.synchronize();
  for (std::size_t i = 0; i < n; ++i) ASSERT_EQ(a[i], 2u) << i;
}

TEST(Thrust, AnExceptionFromTheAlgorithmReachesTheCallerAndReleasesTheStream) {
  uvm::manager mgr(emulated(page));
  constexpr std::size_t n = 4 * page / sizeof(std::uint32_t);
  auto a = mgr.allocate<std::uint32_t>(n);
  {
    uvm::launch_scope scope = mgr.begin_launch({uvm::writes(a)});
    std::uint32_t* d = scope.device_pointer(a.data());
    const auto throws_late = [](std::uint32_t v) -> std::uint32_t {
      if (v == 7) throw std::runtime_error("functor");
      return v;
    };
    scope.parallel_for(n, [d](std::size_t i) { d[i] = i == n / 2 ? 7 : 1; });
    EXPECT_THROW(thrust::transform(uvm::thrust::par(scope), d, d + n, d, throws_late),
                 std::runtime_error);
    scope.parallel_for(n, [d](std::size_t i) { d[i] = 5; });  // the stream goes on
  }
  mgr.synchronize();
  for (std::size_t i = 0; i < n; ++i) ASSERT_EQ(a[i], 5u) << i;
}

TEST(Thrust, PolicyWaitsBoundedAndRefusesAnEndedScope) {
  uvm::manager mgr(emulated(page));
  constexpr std::size_t n = page / sizeof(std::uint32_t);
  auto a = mgr.allocate<std::uint32_t>(n);
  for (std::size_t i = 0; i < n; ++i) a[i] = static_cast<std::uint32_t>(n - i);
  uvm::launch_scope scope = mgr.begin_launch({uvm::writes(a)});
  std::uint32_t* d = scope.device_pointer(a.data());
  // The kernel holds the stream until the bounded wait has failed (not for a fixed 300 ms, which
  // a loaded machine can outlast before the policy is asked for).
  std::atomic<bool> release{false};
  scope.parallel_for(1, [&release](std::size_t) {
    const auto end = std::chrono::steady_clock::now() + 10s;
    while (!release && std::chrono::steady_clock::now() < end) std::this_thread::yield();
  });
  EXPECT_THROW(uvm::thrust::emulated_policy(scope, 20ms), uvm::timeout);
  release = true;
  // The abandoned hold lets the stream go on; the next policy waits for the slow kernel.
  const std::uint64_t sum = uvm::thrust::with_policy(scope, [&](auto&& policy) {
    thrust::sort(policy, d, d + n);
    return thrust::reduce(policy, d, d + n, std::uint64_t{0});
  });
  EXPECT_EQ(sum, std::uint64_t{n} * (n + 1) / 2);
  scope.end();
  EXPECT_THROW((void)uvm::thrust::par(scope), uvm::invalid_argument);
  mgr.synchronize();
  for (std::size_t i = 0; i < n; ++i) ASSERT_EQ(a[i], i + 1) << i;
}

}  // namespace
