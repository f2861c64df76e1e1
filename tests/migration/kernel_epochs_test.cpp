// Kernel epochs on the emulated device: kernels in flight, the end of an epoch, bounded waits,
// and fairness (a launch waits while CPU faults wait for the kernels in flight).
#include "host/migration/kernel_epochs.hpp"

#include "host/backend/emulated/emulated_backend.hpp"

#include <uvm/error.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>

namespace uvm::detail {
namespace {

using namespace std::chrono_literals;

// A kernel on `s` that runs until `go` is set (bounded), in its own epoch.
void launch_until(emulated_backend& b, kernel_epochs& k, const stream& s, std::atomic<bool>& go) {
  k.begin();
  b.launch(
      1,
      [&go](std::size_t, std::size_t) {
        const auto end = std::chrono::steady_clock::now() + 10s;
        while (!go && std::chrono::steady_clock::now() < end) std::this_thread::yield();
      },
      s);
  k.end(b.record(s));
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

TEST(KernelEpochs, ALaunchBeingEnqueuedCountsAsInFlight) {
  emulated_backend b;
  kernel_epochs k(b, 1s);
  k.begin();
  EXPECT_TRUE(k.poll().in_flight);
  EXPECT_FALSE(k.wait(10ms));
  k.end(nullptr);  // the launch failed: nothing to wait for
  EXPECT_FALSE(k.poll().in_flight);
  EXPECT_TRUE(k.wait(10ms));
}

TEST(KernelEpochs, LaunchesWaitWhileCpuFaultsWait) {
  emulated_backend b;
  kernel_epochs k(b, 5s);
  k.cpu_faults_waiting(true);
  std::atomic<bool> launched{false};
  std::thread launcher([&] {
    k.begin();
    launched = true;
    k.end(nullptr);
  });
  std::this_thread::sleep_for(100ms);
  EXPECT_FALSE(launched.load()) << "a launch overtook the waiting CPU faults";
  k.cpu_faults_waiting(false);
  launcher.join();
  EXPECT_TRUE(launched.load());
}

TEST(KernelEpochs, ALaunchThatWaitsPastTheTimeoutIsAnError) {
  emulated_backend b;
  kernel_epochs k(b, 50ms);
  k.cpu_faults_waiting(true);
  EXPECT_THROW(k.begin(), uvm::timeout);
  EXPECT_FALSE(k.poll().in_flight) << "nothing was marked";
  k.cpu_faults_waiting(false);
  k.begin();
  k.end(nullptr);
}

}  // namespace
}  // namespace uvm::detail
