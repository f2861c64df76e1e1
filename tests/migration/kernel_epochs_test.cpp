// Kernel epochs on the emulated device: kernels in flight per stream, which pages each may use
// (attachments, declared launches), the end of an epoch, bounded waits, and fairness (a launch
// waits while CPU faults or queued moves wait for kernels it may delay).
#include "host/migration/kernel_epochs.hpp"

#include "host/backend/emulated/emulated_backend.hpp"

#include <uvm/error.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

namespace uvm::detail {
namespace {

using namespace std::chrono_literals;

// A kernel on `s` that runs until `go` is set (bounded), in its own epoch.
kernel_epochs::ticket launch_until(emulated_backend& b, kernel_epochs& k, const stream& s,
                                   std::atomic<bool>& go, std::vector<page_use> uses = {},
                                   bool declared = false) {
  const kernel_epochs::ticket t = k.begin(s, uses, declared);
  b.launch(
      1,
      [&go](std::size_t, std::size_t) {
        const auto end = std::chrono::steady_clock::now() + 10s;
        while (!go && std::chrono::steady_clock::now() < end) std::this_thread::yield();
      },
      s);
  k.end(t, b.record(s));
  return t;
}

constexpr page_use range0{0, 0, 16};
constexpr page_use range1{1, 0, 16};

// Waits (bounded) until a launch has arrived in begin(): it took ticket `arrival` and is now
// either held back or admitted (both under the lock that next() takes). An admitted launch is in
// use (undeclared: of every range) until its end(), which follows its `launched` store: so check
// in_use() before `launched`.
void arrive(kernel_epochs& k, kernel_epochs::ticket arrival) {
  const auto end = std::chrono::steady_clock::now() + 10s;
  while (k.next() == arrival && std::chrono::steady_clock::now() < end) std::this_thread::yield();
  ASSERT_GT(k.next(), arrival) << "the launch never reached begin()";
}

TEST(KernelEpochs, AnEpochEndsOnceWhenItsLastKernelFinishes) {
  emulated_backend b;
  kernel_epochs k(b, 1s);
  const stream s = b.create_stream("k");
  EXPECT_FALSE(k.poll().in_flight);
  std::atomic<bool> go{false};
  launch_until(b, k, s, go);
  EXPECT_TRUE(k.poll().in_flight);
  EXPECT_FALSE(k.wait(50ms)) << "the kernel still runs";
  go = true;
  EXPECT_TRUE(k.wait(5s));
  const kernel_epochs::state st = k.poll();
  EXPECT_FALSE(st.in_flight);
  EXPECT_TRUE(st.ended);
  EXPECT_FALSE(k.poll().ended) << "reported once";
}

// A page moves away from the devices that map it only while no kernel there may use it: kernels
// on other devices do not reach its frame.
TEST(KernelEpochs, OnlyKernelsOnTheNamedDevicesHoldAPage) {
  emulated_backend b(1, 3);
  kernel_epochs k(b, 1s);
  const stream on1 = b.create_stream("k1", 1);
  const stream on2 = b.create_stream("k2", 2);
  std::atomic<bool> go{false};
  launch_until(b, k, on1, go, {range0}, /*declared=*/true);
  EXPECT_TRUE(k.in_use_on(range0, 0b010));
  EXPECT_TRUE(k.in_use_on(range0, 0b111));
  EXPECT_FALSE(k.in_use_on(range0, 0b101)) << "no kernel on devices 0 and 2";
  EXPECT_FALSE(k.in_use_on(range1, 0b010)) << "a range the kernel did not declare";
  EXPECT_FALSE(k.in_use_on(range0, 0)) << "no device";
  std::atomic<bool> go2{false};
  launch_until(b, k, on2, go2, {range1}, /*declared=*/true);
  EXPECT_TRUE(k.in_use_on(range1, 0b100));
  EXPECT_TRUE(k.running_besides(nullptr, 2));
  EXPECT_FALSE(k.running_besides(nullptr, 0));
  go = true;
  go2 = true;
  ASSERT_TRUE(k.wait(5s));
  EXPECT_FALSE(k.in_use_on(range0, 0b111)) << "the kernels ended";
  EXPECT_FALSE(k.in_use_on(range1, 0b111));
}

TEST(KernelEpochs, ALaunchBeingEnqueuedCountsAsInFlight) {
  emulated_backend b;
  kernel_epochs k(b, 1s);
  const stream s = b.create_stream("k");
  const auto t = k.begin(s, {}, false);
  EXPECT_TRUE(k.poll().in_flight);
  EXPECT_TRUE(k.in_use(range0));
  EXPECT_FALSE(k.wait(10ms));
  k.end(t, nullptr);  // the launch failed: nothing to wait for
  EXPECT_FALSE(k.poll().in_flight);
  EXPECT_TRUE(k.wait(10ms));
}

TEST(KernelEpochs, AnUndeclaredKernelMayUseEveryGlobalRange) {
  emulated_backend b;
  kernel_epochs k(b, 1s);
  const stream s = b.create_stream("k");
  std::atomic<bool> go{false};
  launch_until(b, k, s, go);
  EXPECT_TRUE(k.in_use(range0));
  EXPECT_TRUE(k.in_use(range1));
  EXPECT_FALSE(k.wait_users(range1, 20ms));
  go = true;
  EXPECT_TRUE(k.wait_users(range1, 5s));
  EXPECT_FALSE(k.in_use(range1));
}

TEST(KernelEpochs, ADeclaredKernelUsesOnlyWhatItDeclared) {
  emulated_backend b;
  kernel_epochs k(b, 1s);
  const stream s = b.create_stream("k");
  std::atomic<bool> go{false};
  launch_until(b, k, s, go, {{0, 4, 4}}, true);
  EXPECT_TRUE(k.in_use({0, 6, 1}));
  EXPECT_TRUE(k.in_use({0, 0, 5})) << "overlaps page 4";
  EXPECT_FALSE(k.in_use({0, 0, 4}));
  EXPECT_FALSE(k.in_use({0, 8, 8}));
  EXPECT_FALSE(k.in_use(range1));
  EXPECT_TRUE(k.wait_users(range1, 10ms)) << "nothing to wait for";
  go = true;
  ASSERT_TRUE(k.wait(5s));
}

TEST(KernelEpochs, SingleAttachedMemoryIsUsedOnlyByItsStream) {
  emulated_backend b;
  kernel_epochs k(b, 1s);
  const stream s1 = b.create_stream("one");
  const stream s2 = b.create_stream("two");
  k.attach(1, attach_kind::single, s2, nullptr);
  EXPECT_EQ(k.attachment(1), attach_kind::single);
  std::atomic<bool> go{false};
  launch_until(b, k, s1, go);
  EXPECT_TRUE(k.in_use(range0)) << "global";
  EXPECT_FALSE(k.in_use(range1)) << "attached to the other stream";
  std::atomic<bool> go2{false};
  launch_until(b, k, s2, go2);
  EXPECT_TRUE(k.in_use(range1));
  EXPECT_FALSE(k.in_use(range1, kernel_epochs::no_ticket, s2.get())) << "except its stream";
  go = go2 = true;
  ASSERT_TRUE(k.wait(5s));
}

TEST(KernelEpochs, HostAttachedMemoryIsUsedByNoKernel) {
  emulated_backend b;
  kernel_epochs k(b, 1s);
  const stream s = b.create_stream("k");
  k.attach(0, attach_kind::host, nullptr, nullptr);
  std::atomic<bool> go{false};
  launch_until(b, k, s, go);
  EXPECT_FALSE(k.in_use(range0));
  EXPECT_TRUE(k.in_use(range1));
  k.forget(0);
  EXPECT_TRUE(k.in_use(range0)) << "a forgotten id is global again";
  go = true;
  ASSERT_TRUE(k.wait(5s));
}

TEST(KernelEpochs, AnAttachmentTakesEffectInStreamOrder) {
  emulated_backend b;
  kernel_epochs k(b, 1s);
  const stream s1 = b.create_stream("one");
  const stream s2 = b.create_stream("two");
  std::atomic<bool> go{false};
  launch_until(b, k, s1, go);
  // Queued behind the running kernel: until it ends the old attachment (global) still counts.
  k.attach(0, attach_kind::single, s2, b.record(s1));
  EXPECT_EQ(k.attachment(0), attach_kind::single) << "as last asked for";
  EXPECT_TRUE(k.in_use(range0)) << "the kernel queued before the attach may use it";
  go = true;
  ASSERT_TRUE(k.wait(5s));
  ASSERT_TRUE(b.wait(b.record(s1), 5s));  // the stream has passed the attach
  std::atomic<bool> go2{false};
  launch_until(b, k, s1, go2);
  EXPECT_FALSE(k.in_use(range0)) << "in effect: a kernel on the first stream may not use it";
  go2 = true;
  ASSERT_TRUE(k.wait(5s));
}

// A device-wide synchronize waits for the attachments asked for before it: one whose stream has
// not reached it yet (here behind a closed gate) is waited for, and in effect after.
TEST(KernelEpochs, WaitingForAttachmentsEndsWhenEachIsInEffect) {
  emulated_backend b;
  kernel_epochs k(b, 1s);
  const stream s1 = b.create_stream("one");
  const stream s2 = b.create_stream("two");
  EXPECT_TRUE(k.wait_attachments(10ms)) << "none asked for";
  const uvm::detail::gate g = b.enqueue_gate(s2);
  k.attach(0, attach_kind::single, s2, b.record(s2));
  EXPECT_FALSE(k.wait_attachments(50ms)) << "the attachment's stream has not reached it";
  b.open_gate(g);
  EXPECT_TRUE(k.wait_attachments(5s));
  std::atomic<bool> go{false};
  launch_until(b, k, s1, go);
  EXPECT_TRUE(k.poll().in_flight);
  EXPECT_FALSE(k.in_use(range0)) << "in effect once waited for";
  go = true;
  ASSERT_TRUE(k.wait(5s));
}

TEST(KernelEpochs, MemoryOfADestroyedStreamIsUsedByNoKernel) {
  emulated_backend b;
  kernel_epochs k(b, 1s);
  const stream s1 = b.create_stream("one");
  {
    const stream gone = b.create_stream("gone");
    k.attach(0, attach_kind::single, gone, nullptr);
  }
  std::atomic<bool> go{false};
  launch_until(b, k, s1, go);
  EXPECT_FALSE(k.in_use(range0));
  go = true;
  ASSERT_TRUE(k.wait(5s));
}

TEST(KernelEpochs, LaunchesThatMayUseAWaitingCpuFaultsPagesWaitForIt) {
  emulated_backend b;
  kernel_epochs k(b, 5s);
  const stream s = b.create_stream("k");
  const std::vector<page_use> waiting{{0, 3, 1}};
  k.cpu_waiters(waiting);
  // A launch declared elsewhere is not held back.
  const auto elsewhere = k.begin(s, std::vector<page_use>{{1, 0, 4}}, true);
  k.end(elsewhere, nullptr);
  std::atomic<bool> launched{false};
  const kernel_epochs::ticket arrival = k.next();
  std::thread launcher([&] {
    const auto t = k.begin(s, {}, false);
    launched = true;
    k.end(t, nullptr);
  });
  arrive(k, arrival);
  EXPECT_FALSE(k.in_use(range1)) << "a launch overtook the waiting CPU fault";
  EXPECT_FALSE(launched.load());
  k.cpu_waiters({});
  launcher.join();
  EXPECT_TRUE(launched.load());
}

TEST(KernelEpochs, AQueuedMoveHoldsBackOtherStreamsOnly) {
  emulated_backend b;
  kernel_epochs k(b, 5s);
  const stream s1 = b.create_stream("one");
  const stream s2 = b.create_stream("two");
  std::atomic<bool> go{false};
  // Declared on range0 only, so that range1 shows whether the held-back launch was admitted.
  const auto older = launch_until(b, k, s2, go, {range0}, true);
  const std::vector<page_use> back{range0};
  const auto w = k.issue(back, s1);
  EXPECT_GT(w, older);
  EXPECT_TRUE(k.in_use(range0, w, s1.get())) << "the older kernel on the other stream";
  // A launch on the waiter's own stream runs after it in stream order: not held back.
  const auto same = k.begin(s1, {}, false);
  EXPECT_FALSE(k.in_use(range0, w, s2.get())) << "later kernels are not waited for";
  k.end(same, nullptr);
  std::atomic<bool> launched{false};
  const kernel_epochs::ticket arrival = k.next();
  std::thread launcher([&] {
    const auto t = k.begin(s2, {}, false);
    launched = true;
    k.end(t, nullptr);
  });
  arrive(k, arrival);
  EXPECT_FALSE(k.in_use(range1)) << "a launch on another stream overtook the queued move";
  EXPECT_FALSE(launched.load());
  k.finish_operation(w);
  launcher.join();
  go = true;
  ASSERT_TRUE(k.wait(5s));
}

TEST(KernelEpochs, ALaunchHeldBackCountsForMovesOnlyOnceAdmitted) {
  emulated_backend b;
  kernel_epochs k(b, 5s);
  const stream s1 = b.create_stream("one");
  const stream s2 = b.create_stream("two");
  const stream s3 = b.create_stream("three");
  const std::vector<page_use> back{range0};
  const auto w0 = k.issue(back, s1);
  std::atomic<bool> admitted{false};
  kernel_epochs::ticket held = 0;
  std::thread launcher([&] {
    held = k.begin(s2, {}, false);  // held back by w0
    admitted = true;
  });
  while (k.next() == w0 + 1) std::this_thread::yield();  // the launch has arrived
  const auto w1 = k.issue(back, s3);
  EXPECT_FALSE(admitted.load());
  EXPECT_FALSE(k.in_use(range0)) << "a CPU fault does not wait for a launch not yet admitted";
  // Not in its stream yet: a move waiting for it could wait for a kernel that in turn waits
  // behind the move's own gate (the launch waits for a CPU fault that waits for that kernel).
  EXPECT_FALSE(k.in_use(range0, w1, s3.get())) << "a move waited for a launch held back";
  EXPECT_FALSE(k.in_use(range0, w0, s1.get())) << "the move it waits for does not wait for it";
  k.finish_operation(w0);
  launcher.join();
  EXPECT_TRUE(admitted.load()) << "w1 arrived later: it does not hold the launch back";
  EXPECT_LT(held, w1);
  EXPECT_TRUE(k.in_use(range0, w1, s3.get()))
      << "admitted, and placed before w1 in its stream: w1 waits for it";
  k.end(held, nullptr);
  k.finish_operation(w1);
}

TEST(KernelEpochs, MovesQueuedBehindOpenEpochsOnTwoStreamsDoNotWaitForEachOther) {
  // Two epochs open (admitted, not yet enqueued), then a move to the host on each one's stream:
  // each epoch's kernel goes into its stream behind that move's gate. If the first move waited
  // for the second stream's epoch, and the second move for the first's, neither could ever run.
  emulated_backend b;
  kernel_epochs k(b, 5s);
  const stream s1 = b.create_stream("one");
  const stream s2 = b.create_stream("two");
  const auto on2 = k.begin(s2, {}, false);
  const auto on1 = k.begin(s1, {}, false);
  const std::vector<page_use> back{range0};
  const auto m1 = k.issue(back, s1);
  const auto m2 = k.issue(back, s2);
  EXPECT_FALSE(k.in_use(range0, m1, s1.get()))
      << "the first move waits for the epoch queued behind the second move";
  EXPECT_TRUE(k.in_use(range0, m2, s2.get()))
      << "the second move waits for the epoch behind the first (which waits for nothing)";
  // An epoch whose end is recorded before a move is queued on its stream keeps its place.
  k.end(on1, nullptr);
  k.end(on2, nullptr);
  k.finish_operation(m1);
  k.finish_operation(m2);
  std::atomic<bool> go{false};
  const auto before = launch_until(b, k, s1, go);
  const auto m3 = k.issue(back, s1);
  const auto m4 = k.issue(back, s2);
  EXPECT_TRUE(k.in_use(range0, m4, s2.get())) << "a kernel ahead of the move on s1";
  EXPECT_LT(before, m3);
  go = true;
  ASSERT_TRUE(k.wait(5s));
  k.finish_operation(m3);
  k.finish_operation(m4);
}

TEST(KernelEpochs, AFreedFrameWaitsOnlyForKernelsThatMayHaveStarted) {
  // A pipeline on two streams: chunk 1's kernel runs on s1; on s2 an operation's gate holds
  // chunk 2's kernel. A frame freed now may be reused once chunk 1's kernel ends: chunk 2's
  // cannot have read the old entry. (The fence was every kernel admitted so far, chunk 2's too,
  // so the frames a pipeline gave back stayed quarantined until its last kernel ended.)
  emulated_backend b;
  kernel_epochs k(b, 5s);
  const stream s1 = b.create_stream("one");
  const stream s2 = b.create_stream("two");
  EXPECT_EQ(k.free_fence(nullptr), kernel_epochs::no_ticket) << "no kernel in flight";
  std::atomic<bool> go1{false}, go2{false};
  const auto first = launch_until(b, k, s1, go1);
  const gate g = b.enqueue_gate(s2);
  ASSERT_NE(g, nullptr);
  const auto op = k.issue({}, s2, true);
  const auto second = launch_until(b, k, s2, go2);
  ASSERT_LT(first, op);
  ASSERT_LT(op, second);
  EXPECT_EQ(k.free_fence(nullptr), first + 1) << "the kernel behind the gate counted";
  EXPECT_EQ(k.free_fence(s1.get()), kernel_epochs::no_ticket)
      << "a move on s1: its own stream's kernel has finished or waits behind its gate";
  // A launch not yet enqueued counts (its stream has no gate), whatever its place.
  const auto third = k.begin(s1, {}, false);
  EXPECT_EQ(k.free_fence(s2.get()), third + 1);
  k.end(third, nullptr);
  // The operation finished: its gate opens, and the kernel behind it may start.
  k.finish_operation(op);
  EXPECT_EQ(k.free_fence(nullptr), second + 1);
  b.open_gate(g);
  go1 = true;
  go2 = true;
  ASSERT_TRUE(k.wait(5s));
  EXPECT_EQ(k.free_fence(nullptr), kernel_epochs::no_ticket);
}

// Frames freed while a declared launch runs elsewhere: only kernels that may use the freed pages
// fence them. A two-stream pipeline whose other stream's kernel ran long (under load) used to
// find every frame its chunks gave back fenced by that kernel, which never touches them.
TEST(KernelEpochs, OnlyKernelsThatMayUseTheFreedPagesFenceTheirFrames) {
  emulated_backend b;
  kernel_epochs k(b, 5s);
  const stream s1 = b.create_stream("one");
  const stream s2 = b.create_stream("two");
  std::atomic<bool> go1{false}, go2{false};
  const auto declared = launch_until(b, k, s1, go1, {page_use{0, 0, 4}}, /*declared=*/true);
  const page_use elsewhere{0, 8, 4};
  const page_use its_own{0, 2, 1};
  EXPECT_EQ(k.free_fence(nullptr, 0, &elsewhere), kernel_epochs::no_ticket)
      << "the declared kernel cannot have cached pages it may not use";
  EXPECT_EQ(k.free_fence(nullptr, 0, &its_own), declared + 1);
  EXPECT_EQ(k.free_fence(nullptr, 0), declared + 1) << "without pages, every running kernel";
  // An undeclared kernel may use any page of a range attached globally.
  const auto any = launch_until(b, k, s2, go2);
  EXPECT_EQ(k.free_fence(nullptr, 0, &elsewhere), any + 1);
  go1 = true;
  go2 = true;
  ASSERT_TRUE(k.wait(5s));
  EXPECT_EQ(k.free_fence(nullptr, 0, &its_own), kernel_epochs::no_ticket);
}

TEST(KernelEpochs, ALaunchThatWaitsPastTheTimeoutIsAnError) {
  emulated_backend b;
  kernel_epochs k(b, 50ms);
  const stream s = b.create_stream("k");
  const std::vector<page_use> waiting{range0};
  k.cpu_waiters(waiting);
  EXPECT_THROW((void)k.begin(s, {}, false), uvm::timeout);
  EXPECT_FALSE(k.poll().in_flight) << "nothing was marked";
  k.cpu_waiters({});
  k.end(k.begin(s, {}, false), nullptr);
}

}  // namespace
}  // namespace uvm::detail
