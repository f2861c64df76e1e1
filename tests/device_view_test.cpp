// The accessor's fault path on the host (as the emulated device runs it), against a mailbox this
// test reads: many lanes waiting on one page post a record once, not one each every 2 ms, and
// whoever sees the published entry proceeds; and a post wakes no host thread, as on a GPU.
#include "host/common/clock.hpp"
#include "host/common/futex.hpp"

#include <uvm/device_view.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <sys/syscall.h>
#include <unistd.h>

namespace uvm::detail {
namespace {

using namespace std::chrono_literals;

struct fake_device {
  std::unique_ptr<fault_mailbox> mailbox = std::make_unique<fault_mailbox>();
  mailbox_control control{};
  std::vector<device_pte> ptes = std::vector<device_pte>(4, 0);
  std::vector<std::byte> frames = std::vector<std::byte>(4 << 16);
  device_range range() {
    device_range r;
    r.slots[0] = slot();
    r.host = frames.data();
    r.bytes = frames.size();
    r.timeout_ns = 5'000'000'000;
    r.page_shift = 16;
    return r;
  }
  device_slot slot() {
    return {.ptes = ptes.data(),
            .frames = frames.data(),
            .mailbox = mailbox.get(),
            .control = &control};
  }
  std::uint32_t records() { return std::atomic_ref<std::uint32_t>(control.head).load(); }
};

TEST(DeviceView, LanesWaitingOnOnePagePostOnceWhileARecordIsPending) {
  fake_device dev;
  const device_range r = dev.range();
  constexpr int lanes = 32;
  std::atomic<int> entering{0};
  std::atomic<int> done{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < lanes; ++i) {
    threads.emplace_back([&] {
      entering.fetch_add(1);
      if (r.fault(0, 1, false) != 0) done.fetch_add(1);
    });
  }
  // The slow host's 120 ms count from the moment every lane is in fault() (or about to enter it)
  // and the first record is posted: a loaded machine must not shorten the flood's window.
  const auto end = std::chrono::steady_clock::now() + 10s;
  while ((entering.load() < lanes || dev.records() == 0) &&
         std::chrono::steady_clock::now() < end) {
    std::this_thread::yield();
  }
  ASSERT_EQ(entering.load(), lanes);
  ASSERT_GE(dev.records(), 1u) << "no lane posted";
  std::this_thread::sleep_for(120ms);  // the host is slow to serve: ~60 re-post periods
  const std::uint32_t posted = dev.records();
  // The host publishes the entry (a copy from its shadow, which has no pending bit).
  std::atomic_ref<device_pte>(dev.ptes[1]).store(make_pte(1, pte_valid), std::memory_order_release);
  for (auto& t : threads) t.join();
  EXPECT_EQ(done.load(), lanes) << "every lane saw the entry";
  EXPECT_GE(posted, 1u);
  // One record per 2 ms period at most (a lane of a later period may race the first), never one
  // per lane per period (32 x 60 here).
  EXPECT_LE(posted, 120u) << "waiting lanes flooded the mailbox";
  EXPECT_EQ(dev.control.error, 0u);
}

// The post itself, on this thread: what a lane finds after a failed try does not depend on
// when the lane ran.
TEST(DeviceView, ARecordThatCouldNotBePostedIsNotPending) {
  fake_device dev;
  const device_range r = dev.range();
  dev.control.head = fault_mailbox::capacity;  // full: the host has consumed nothing
  const fault_record rec{0, 2, device_access::write, 0, 0, 0};
  EXPECT_EQ(r.post_once(0, 2, rec, false), device_range::post_result::ring_full);
  EXPECT_EQ(dev.ptes[2] & pte_fault_pending, 0u)
      << "a record that could not be posted is not pending";
  EXPECT_EQ(dev.records(), fault_mailbox::capacity);
  std::atomic_ref<std::uint32_t>(dev.mailbox->tail).store(fault_mailbox::capacity);
  EXPECT_EQ(r.post_once(0, 2, rec, false), device_range::post_result::posted);
  EXPECT_NE(dev.ptes[2] & pte_fault_pending, 0u);
  EXPECT_EQ(r.post_once(0, 2, rec, false), device_range::post_result::pending_elsewhere);
  EXPECT_EQ(dev.records(), fault_mailbox::capacity + 1);
}

TEST(DeviceView, AFullRingIsRetried) {
  fake_device dev;
  const device_range r = dev.range();
  // Fill the ring: the host has consumed nothing.
  dev.control.head = fault_mailbox::capacity;
  std::atomic<bool> entering{false};
  std::thread lane([&] {
    entering = true;
    (void)r.fault(0, 2, true);
  });
  const auto entered = std::chrono::steady_clock::now() + 5s;
  while (!entering && std::chrono::steady_clock::now() < entered) std::this_thread::yield();
  ASSERT_TRUE(entering.load());
  EXPECT_EQ(dev.records(), fault_mailbox::capacity) << "posted into a full ring";
  // The host drains the ring: the lane's next try posts.
  std::atomic_ref<std::uint32_t>(dev.mailbox->tail).store(fault_mailbox::capacity);
  const auto end = std::chrono::steady_clock::now() + 5s;
  while (dev.records() == fault_mailbox::capacity && std::chrono::steady_clock::now() < end) {
    std::this_thread::sleep_for(1ms);
  }
  EXPECT_EQ(dev.records(), fault_mailbox::capacity + 1);
  std::atomic_ref<device_pte>(dev.ptes[2])
      .store(make_pte(2, pte_valid | pte_writable), std::memory_order_release);
  lane.join();
}

// With several devices, code translates through the page table and frames of the device it runs
// on, and a fault it posts names that device, goes to that device's ring (and marks that device's
// entry pending only).
TEST(DeviceView, CodeOnEachDeviceUsesItsOwnTableAndFramesAndItsFaultsNameIt) {
  fake_device zero;
  fake_device one;
  device_range r = zero.range();
  r.devices = 2;
  r.slots[1] = one.slot();
  r.timeout_ns = 20'000'000;
  zero.ptes[0] = make_pte(0, pte_valid | pte_writable);
  one.ptes[0] = make_pte(3, pte_valid | pte_writable);
  zero.ptes[1] = make_pte(1, pte_valid | pte_writable);  // page 1: on device 0 only
  zero.ptes[2] = make_pte(2, pte_valid | pte_writable);  // page 2: device 1 maps device 0's frame
  one.ptes[2] = make_peer_pte(0, 2, pte_valid | pte_writable);
  EXPECT_EQ(r.translate(8, false), zero.frames.data() + 8) << "a host thread is device 0";
  std::byte* on_one = nullptr;
  std::byte* faulted = nullptr;
  std::byte* peer = nullptr;
  std::thread worker([&] {
    emulated_device = 1;
    on_one = r.translate(8, true);
    faulted = r.translate((std::size_t{1} << 16) + 8, false);
    peer = r.translate((std::size_t{2} << 16) + 8, true);
  });
  worker.join();
  EXPECT_EQ(on_one, one.frames.data() + (std::size_t{3} << 16) + 8);
  EXPECT_EQ(peer, zero.frames.data() + (std::size_t{2} << 16) + 8) << "the peer's frame";
  constexpr device_pte last = make_peer_pte(max_devices - 1, max_peer_frames - 1, pte_valid);
  EXPECT_EQ(pte_peer_device(last), max_devices - 1);
  EXPECT_EQ(pte_peer_frame(last), max_peer_frames - 1);
  EXPECT_EQ(last & (pte_writable | pte_remote | pte_denied), 0u) << "no flag bit was overwritten";
  EXPECT_NE(one.ptes[0] & pte_dirty, 0u) << "the store marked device 1's entry";
  EXPECT_EQ(zero.ptes[0] & pte_dirty, 0u) << "device 0's entry is not device 1's";
  EXPECT_EQ(faulted, nullptr) << "device 1 read through device 0's entry";
  EXPECT_EQ(zero.records(), 0u) << "device 1 posted to device 0's ring";
  ASSERT_EQ(one.records(), 1u);
  EXPECT_EQ(one.mailbox->slots[0].record.device, 1u);
  EXPECT_EQ(one.mailbox->slots[0].record.page, 1u);
  EXPECT_NE(one.ptes[1] & pte_fault_pending, 0u);
  EXPECT_EQ(zero.ptes[1] & pte_fault_pending, 0u);
  EXPECT_EQ(one.control.error, static_cast<std::uint32_t>(device_error::fault_timeout));
  EXPECT_EQ(zero.control.error, 0u);
}

// Device code maps the device it runs on to its slot through the range's table, so the manager's
// device 0 may be any native device; a device the range has no slot for touches no frame and
// reports foreign_device.
TEST(DeviceView, NativeDevicesMapToTheirSlotsAndAForeignDeviceIsAnError) {
  fake_device zero;
  fake_device one;
  device_range r = zero.range();
  r.devices = 2;
  r.slots[1] = one.slot();
  for (auto& s : r.slot_of) s = no_slot;
  r.slot_of[5] = 0;  // the manager's device 0 is native device 5, its device 1 native 2
  r.slot_of[2] = 1;
  zero.ptes[0] = make_pte(1, pte_valid | pte_writable);
  one.ptes[0] = make_pte(2, pte_valid | pte_writable);
  std::byte* on_five = nullptr;
  std::byte* on_two = nullptr;
  std::byte* on_zero = reinterpret_cast<std::byte*>(1);
  std::thread worker([&] {
    emulated_device = 5;
    on_five = r.translate(8, false);
    emulated_device = 2;
    on_two = r.translate(8, false);
    emulated_device = 0;
    on_zero = r.translate(8, false);
  });
  worker.join();
  EXPECT_EQ(on_five, zero.frames.data() + (std::size_t{1} << 16) + 8);
  EXPECT_EQ(on_two, one.frames.data() + (std::size_t{2} << 16) + 8);
  EXPECT_EQ(on_zero, nullptr) << "native device 0 is no device of the range";
  EXPECT_EQ(zero.control.error, static_cast<std::uint32_t>(device_error::foreign_device));
  EXPECT_EQ(zero.records() + one.records(), 0u) << "a foreign device posts no fault";
  EXPECT_EQ(zero.ptes[0] & pte_accessed, pte_accessed);
  EXPECT_EQ(one.ptes[0] & pte_accessed, pte_accessed);
}

// A GPU stores to the doorbell but cannot wake a host thread, so the fault service polls while
// kernels run. The emulated device may not wake it either: a post that woke the service would
// hide a service that forgot to poll.
TEST(DeviceView, APostWakesNoHostThreadSleepingOnTheDoorbell) {
  fake_device dev;
  auto& bell = *reinterpret_cast<std::atomic<std::uint32_t>*>(&dev.mailbox->doorbell);
  std::atomic<long> tid{0};
  std::atomic<int> outcome{-1};  // 1: woken (or the word had changed), 0: slept to the deadline
  std::thread host([&] {
    tid = syscall(SYS_gettid);
    outcome = futex_wait_until(bell, 0, deadline_after(300ms)) ? 1 : 0;
  });
  // Post only once the thread sleeps in the futex call (its syscall file names it).
  const auto end = std::chrono::steady_clock::now() + 10s;
  bool asleep = false;
  while (!asleep && std::chrono::steady_clock::now() < end) {
    if (const long t = tid.load(); t != 0) {
      std::ifstream f("/proc/self/task/" + std::to_string(t) + "/syscall");
      std::string number;
      f >> number;
      asleep = number == std::to_string(SYS_futex);
    }
    if (!asleep) std::this_thread::yield();
  }
  ASSERT_TRUE(asleep) << "the host thread never slept on the doorbell";
  const fault_record rec{0, 1, device_access::read, 0, 0, 0};
  ASSERT_TRUE(post_fault(&dev.control, dev.mailbox.get(), rec));
  host.join();
  EXPECT_EQ(outcome.load(), 0) << "posting a fault woke a host thread";
  EXPECT_EQ(bell.load(), 1u) << "the doorbell still says a record was posted";
}

}  // namespace
}  // namespace uvm::detail
