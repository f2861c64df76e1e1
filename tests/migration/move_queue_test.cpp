// The move queue (host/migration/move_queue.hpp): operations of different streams overlap, a
// prefetch's last copies left in flight while the next operation runs, and whatever needs those
// pages idle under the migrator's lock finishes them first instead of waiting for the queue.
#include "host/migration/move_queue.hpp"

#include "tests/backend/forwarding_backend.hpp"
#include "tests/migration/device_rig.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <future>
#include <mutex>
#include <thread>

namespace uvm::detail {
namespace {

using namespace std::chrono_literals;

// Holds the copies of one direction: the first such copy once armed puts a closed gate before
// itself on its stream, so it and every later copy there wait until release().
class held_copies final : public testing::forwarding_backend {
 public:
  using forwarding_backend::forwarding_backend;
  void hold(copy_kind k) {
    kind_ = k;
    armed_.store(true);
  }
  /// Waits (up to `bound`) until a held copy was issued.
  [[nodiscard]] bool wait_held(std::chrono::milliseconds bound) {
    std::unique_lock lock(mutex_);
    return cv_.wait_for(lock, bound, [this] { return gate_ != nullptr; });
  }
  void release() {
    gate g;
    {
      const std::lock_guard lock(mutex_);
      armed_.store(false);
      g = gate_;
    }
    if (g) inner().open_gate(g);
  }

 private:
  void do_copy_async(void* dst, const void* src, std::size_t bytes, copy_kind kind,
                     const stream& s) override {
    if (armed_.load() && kind == kind_) {
      const std::lock_guard lock(mutex_);
      if (!gate_) {
        gate_ = inner().enqueue_gate(s);
        cv_.notify_all();
      }
    }
    inner().copy_async(dst, src, bytes, kind, s);
  }

  std::atomic<bool> armed_{false};
  copy_kind kind_ = copy_kind::host_to_device;
  std::mutex mutex_;
  std::condition_variable cv_;
  gate gate_;
};

constexpr std::size_t pages = 8;

std::uint32_t* words(const managed_range& r) {
  return reinterpret_cast<std::uint32_t*>(r.base());
}
void fill(const managed_range& r, std::uint32_t tag) {
  for (std::size_t i = 0; i < pages * words_per_page; ++i) {
    words(r)[i] = (tag << 24) | static_cast<std::uint32_t>(i);
  }
}
// Through the app view: faults bring every page back as needed.
bool holds(const managed_range& r, std::uint32_t tag) {
  for (std::size_t i = 0; i < pages * words_per_page; ++i) {
    if (words(r)[i] != ((tag << 24) | static_cast<std::uint32_t>(i))) return false;
  }
  return true;
}

struct queue_rig {
  emulated_backend inner;
  held_copies dev{inner};
  device_rig rig{4 * pages, 3s, &dev};
  std::mutex issue;
  move_queue queue{dev, rig.mig, 3s, issue};
  stream one = dev.create_stream("one");
  stream two = dev.create_stream("two");

  /// Queues `first` on `one` and `second` on `two` before either runs (the streams' own gates
  /// hold them: the worker then knows of the second when it runs the first), lets `one` go with
  /// copies to the device held, and waits until they are issued. @return the gate holding `two`.
  gate queue_two(const move_queue::item& first, const move_queue::item& second) {
    const gate hold_one = dev.enqueue_gate(one);
    gate hold_two = dev.enqueue_gate(two);
    dev.hold(copy_kind::host_to_device);
    queue.enqueue({first}, one);
    queue.enqueue({second}, two);
    dev.open_gate(hold_one);
    EXPECT_TRUE(dev.wait_held(2000ms)) << "the move to the device never copied";
    return hold_two;
  }
};

TEST(MoveQueue, AMoveBackOnAnotherStreamRunsWhileAMoveToTheDeviceIsStillCopying) {
  queue_rig q;
  managed_range& in = q.rig.allocate(pages);    // goes to the device, its copies held
  managed_range& back = q.rig.allocate(pages);  // on the device, comes back meanwhile
  fill(in, 1);
  fill(back, 2);
  ASSERT_EQ(q.rig.mig.prefetch(back, 0, pages, true), pages);
  const gate hold_two = q.queue_two({&in, 0, pages, move_queue::op::to_device},
                                    {&back, 0, pages, move_queue::op::to_host});
  q.dev.open_gate(hold_two);
  // The second stream's work after its move: done while the first move's copies are held.
  const event after_two = q.dev.record(q.two);
  EXPECT_TRUE(q.dev.wait(after_two, 2s))
      << "the move back waited for the other stream's move to the device to land";
  EXPECT_EQ(back.state_of(0), page_state::host_exclusive);
  EXPECT_EQ(in.state_of(0), page_state::migrating);  // still copying
  q.dev.release();
  const event after_one = q.dev.record(q.one);
  ASSERT_TRUE(q.dev.wait(after_one, 3s));
  EXPECT_TRUE(q.queue.wait_queued(3s));
  EXPECT_EQ(q.queue.take_error(), "");
  for (std::size_t p = 0; p < pages; ++p) {
    EXPECT_EQ(in.state_of(p), page_state::device_exclusive) << "page " << p;
  }
  EXPECT_TRUE(holds(in, 1));
  EXPECT_TRUE(holds(back, 2));
}

TEST(MoveQueue, APinOfPagesStillCopyingFinishesTheirMoveInsteadOfTimingOut) {
  queue_rig q;
  managed_range& in = q.rig.allocate(pages);
  managed_range& other = q.rig.allocate(pages);
  fill(in, 3);
  fill(other, 4);
  const gate hold_two = q.queue_two({&in, 0, pages, move_queue::op::to_device},
                                    {&other, 0, pages, move_queue::op::to_device});
  // The pin needs the pages idle under the migrator's lock, which finishing the move takes: it
  // must finish the move itself (once the copies land), not wait for the queue to.
  auto pin = std::async(std::launch::async, [&] { q.rig.mig.pin(in, 0, pages, false); });
  q.dev.release();
  ASSERT_EQ(pin.wait_for(10s), std::future_status::ready);
  EXPECT_NO_THROW(pin.get());
  q.dev.open_gate(hold_two);
  EXPECT_TRUE(q.queue.wait_queued(3s));
  EXPECT_EQ(q.queue.take_error(), "");
  EXPECT_EQ(in.state_of(0), page_state::host_exclusive);
  EXPECT_TRUE(holds(in, 3));
  q.rig.mig.unpin(in, 0, pages);
}

}  // namespace
}  // namespace uvm::detail
