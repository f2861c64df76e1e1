#include "tests/fault/service/fault_harness.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <csignal>
#include <cstring>
#include <mutex>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include <pthread.h>

namespace uvm::detail {
namespace {

using namespace std::chrono_literals;
using testing::fault_harness;

// How a fault the library gives up on ends: the signal handler aborts; under userfaultfd the
// faulting thread gets SIGBUS.
::testing::KilledBySignal fault_death() {
  return ::testing::KilledBySignal(uvm::testing::under_userfaultfd() ? SIGBUS : SIGABRT);
}

// "Copies the device's data back": fills `page` (with 0xa0 + page) through the runtime view and
// makes it host_exclusive. As the migration layer does, a request that finds its page resolved
// moves nothing (`moved` stays false).
int fill_back(managed_range& r, std::size_t page, bool& moved) {
  page_word w = r.pages().load(page);
  if (stored_state(w) != page_state::device_exclusive) return 0;
  moved = true;
  while (!r.pages().try_claim(page, w)) w &= ~busy_bit;
  std::memset(r.runtime_view() + page * r.page_size(), static_cast<int>(0xa0 + page),
              r.page_size());
  const auto o = r.commit(page, w, page_state::host_exclusive);
  return o.st == managed_range::fault_outcome::status::resolved ? 0 : o.error;
}

// Plays the migration layer: "copies the device's data back" by filling the page through the
// runtime view, then makes it host_exclusive.
class fill_resolver final : public fault_resolver {
 public:
  explicit fill_resolver(std::chrono::milliseconds delay = 0ms, int result = 0)
      : delay_(delay), result_(result) {}
  std::atomic<int> calls{0};
  std::atomic<int> moves{0};

 private:
  int do_resolve(managed_range& r, std::size_t page, access) noexcept override {
    calls.fetch_add(1);
    std::this_thread::sleep_for(delay_);
    if (result_ != 0) return result_;
    bool moved = false;
    const int err = fill_back(r, page, moved);
    if (moved) moves.fetch_add(1);
    return err;
  }
  std::chrono::milliseconds delay_;
  int result_;
};

// Reads page `page` of `h`'s range, device_exclusive first: the read sees the resolver's fill.
void read_from_the_device(fault_harness& h, std::size_t page) {
  h.set_state(page, page_state::device_exclusive);
  ASSERT_EQ(h.range.state_of(page), page_state::device_exclusive);
  volatile auto* p = reinterpret_cast<volatile unsigned char*>(h.range.page_address(page));
  EXPECT_EQ(p[7], 0xa0 + page);
  EXPECT_EQ(h.range.state_of(page), page_state::host_exclusive);
  EXPECT_EQ(h.stats.serviced.snapshot().count, 1u);
}

TEST(FaultService, DeviceExclusivePageIsServedAndItsDataIsSeen) {
  fill_resolver resolver;
  fault_harness h(resolver, 5000ms, 4 * 65536, 65536);
  read_from_the_device(h, 2);
  EXPECT_EQ(resolver.calls.load(), 1);
}

TEST(FaultService, ConcurrentFaultsOnOnePageAreServedOnce) {
  fill_resolver resolver(20ms);
  fault_harness h(resolver, 5000ms, 65536, 65536);
  h.set_state(0, page_state::device_exclusive);
  std::vector<std::thread> threads;
  std::atomic<int> good{0};
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      volatile auto* p = reinterpret_cast<volatile unsigned char*>(h.range.base());
      if (p[t * 64] == 0xa0) good.fetch_add(1);
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(good.load(), 8);
  // Faults on one page in one batch are resolved once; later batches find the page resolved.
  EXPECT_EQ(resolver.moves.load(), 1);
  EXPECT_LE(resolver.calls.load(), 8);
}

// The name of the calling thread.
std::string thread_name() {
  std::array<char, 16> name{};
  pthread_getname_np(pthread_self(), name.data(), name.size());
  return name.data();
}

// fill_back, which also resolves on the faulting mechanism's thread (try_resolve)
// unless told that it would have to wait there; notes the threads each call ran on.
class handler_resolver final : public fault_resolver {
 public:
  explicit handler_resolver(bool handler_may_resolve) : handler_may_(handler_may_resolve) {}
  std::vector<std::string> tried_on() {
    const std::lock_guard lock(mutex_);
    return tried_;
  }
  std::vector<std::string> resolved_on() {
    const std::lock_guard lock(mutex_);
    return resolved_;
  }

 private:
  int do_resolve(managed_range& r, std::size_t page, access) noexcept override {
    note(resolved_);
    bool moved = false;
    return fill_back(r, page, moved);
  }
  int do_try_resolve(managed_range& r, std::size_t page, access) noexcept override {
    note(tried_);
    bool moved = false;
    return handler_may_ ? fill_back(r, page, moved) : retry_later;
  }
  void note(std::vector<std::string>& on) {
    const std::lock_guard lock(mutex_);
    on.push_back(thread_name());
  }
  bool handler_may_;
  std::mutex mutex_;
  std::vector<std::string> tried_;
  std::vector<std::string> resolved_;
};

// A fault whose move needs no waiting is resolved by the userfaultfd handler thread itself: no
// hand-off to the service thread and back (two thread wake-ups, the larger part of a CPU read
// of a device page). In a signal handler nothing may take a lock: the service resolves it.
TEST(FaultService, AFaultThatNeedsNoWaitingIsResolvedOnTheUserfaultfdHandlersThread) {
  handler_resolver resolver(true);
  fault_harness h(resolver, 5000ms, 4 * 65536, 65536);
  read_from_the_device(h, 1);
  if (uvm::testing::under_userfaultfd()) {
    EXPECT_EQ(resolver.tried_on(), std::vector<std::string>{"uvm-uffd"});
    EXPECT_TRUE(resolver.resolved_on().empty()) << "handed to " << resolver.resolved_on()[0];
  } else {
    EXPECT_TRUE(resolver.tried_on().empty()) << "resolved in the signal handler";
    EXPECT_EQ(resolver.resolved_on().size(), 1u);
  }
}

// What the handler cannot resolve without waiting goes to the service thread, as before.
TEST(FaultService, AFaultTheHandlerWouldWaitForGoesToTheServiceThread) {
  handler_resolver resolver(false);
  fault_harness h(resolver, 5000ms, 4 * 65536, 65536);
  read_from_the_device(h, 3);
  const std::vector<std::string> resolved = resolver.resolved_on();
  ASSERT_EQ(resolved.size(), 1u);
  EXPECT_NE(resolved[0], "uvm-uffd");
  EXPECT_EQ(resolver.tried_on().size(), uvm::testing::under_userfaultfd() ? 1u : 0u);
}

// Keeps every device fault record it is given; reports kernels in flight, so the service polls
// the rings.
class record_keeper final : public fault_resolver {
 public:
  std::vector<fault_record> seen() {
    const std::lock_guard lock(mutex_);
    return seen_;
  }

 private:
  int do_resolve(managed_range&, std::size_t, access) noexcept override { return 0; }
  void do_resolve_device(std::span<const fault_record> batch) noexcept override {
    const std::lock_guard lock(mutex_);
    seen_.insert(seen_.end(), batch.begin(), batch.end());
  }
  bool do_poll() noexcept override { return true; }
  std::mutex mutex_;
  std::vector<fault_record> seen_;
};

// Each device posts to its own ring (its claim counter is its own memory). The service serves
// every ring, and a page two devices fault on is served for each: a record merged into the other
// device's would leave the first device's lanes waiting for an entry no one publishes.
TEST(FaultService, EveryDevicesRingIsServedAndEachDeviceGetsItsOwnRecord) {
  record_keeper keeper;
  event_ring events;
  fault_service service(keeper, events, nullptr, nullptr, 2);
  std::array<mailbox_control, 2> control{};
  const fault_record from_zero{7, 3, device_access::read, 0, 0, 0};
  const fault_record from_one{7, 3, device_access::write, 0, 1, 0};
  const fault_record again_from_one{7, 3, device_access::read, 0, 1, 0};
  const fault_record other_page{7, 4, device_access::read, 0, 1, 0};
  ASSERT_TRUE(post_fault(&control[0], &service.mailbox(0), from_zero));
  ASSERT_TRUE(post_fault(&control[0], &service.mailbox(0), from_one));  // a shared ring too
  ASSERT_TRUE(post_fault(&control[1], &service.mailbox(1), again_from_one));
  ASSERT_TRUE(post_fault(&control[1], &service.mailbox(1), other_page));
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  auto consumed = [&] {
    return std::atomic_ref<std::uint32_t>(service.mailbox(0).tail).load() == 2 &&
           std::atomic_ref<std::uint32_t>(service.mailbox(1).tail).load() == 2;
  };
  while (!consumed() && std::chrono::steady_clock::now() < deadline) std::this_thread::yield();
  ASSERT_TRUE(consumed()) << "a ring was not served";
  service.stop();  // its last batch has been handed over
  std::vector<std::tuple<std::uint32_t, std::uint16_t, device_access>> got;
  for (const fault_record& r : keeper.seen()) got.emplace_back(r.page, r.device, r.access);
  std::sort(got.begin(), got.end());
  // Device 1's two records for page 3 are one (the write kept) if they met in one batch.
  const bool merged = got.size() == 3;
  ASSERT_TRUE(merged || got.size() == 4) << got.size() << " records";
  EXPECT_EQ(got[0], std::make_tuple(3u, std::uint16_t{0}, device_access::read));
  EXPECT_EQ(std::count_if(got.begin(), got.end(),
                          [](const auto& t) { return std::get<0>(t) == 3 && std::get<1>(t) == 1; }),
            merged ? 1 : 2)
      << "device 1's fault on page 3 was merged into device 0's";
  EXPECT_EQ(got.back(), std::make_tuple(4u, std::uint16_t{1}, device_access::read));
}

TEST(FaultServiceDeathTest, UnservedFaultEndsInAClearErrorNotAHang) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(
      {
        fill_resolver resolver(60s);
        fault_harness h(resolver, 200ms, 65536, 65536);
        h.set_state(0, page_state::device_exclusive);
        volatile auto* p = reinterpret_cast<volatile unsigned char*>(h.range.base());
        (void)p[0];
      },
      fault_death(),
      "CPU read fault at 0x[0-9a-f]+: page 0 .*state device_exclusive, was not served within "
      "the fault timeout");
}

TEST(FaultServiceDeathTest, FailedResolutionIsReported) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(
      {
        fill_resolver resolver(0ms, ENODEV);
        fault_harness h(resolver, 5000ms, 65536, 65536);
        h.set_state(0, page_state::device_exclusive);
        reinterpret_cast<volatile unsigned char*>(h.range.base())[0] = 1;
      },
      fault_death(),
      "CPU write fault .*holds data no attached device can return; (aborting|sending SIGBUS)");
}

TEST(FaultServiceDeathTest, PageBusyPastTheTimeoutIsReported) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(
      {
        fill_resolver resolver;
        fault_harness h(resolver, 200ms, 65536, 65536);
        page_word w = h.range.pages().load(0);
        ASSERT_TRUE(h.range.pages().try_claim(0, w));  // a transition that never ends
        (void)reinterpret_cast<volatile unsigned char*>(h.range.base())[0];
      },
      fault_death(), "state migrating, was not served within the fault timeout");
}

}  // namespace
}  // namespace uvm::detail
