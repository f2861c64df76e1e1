// Ordinary lifetimes, written from the public headers alone: free or destroy while a kernel runs,
// ranges outliving their manager, fork(), thousands of ranges under a low file limit, memory-lock
// limits, overlapping pins, and the C API used after static destruction began.
#include "tests/migration/emulated_config.hpp"

#include <uvm/uvm.h>
#include <uvm/uvm.hpp>

#include <gtest/gtest.h>

#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <thread>
#include <vector>

namespace {

using namespace std::chrono_literals;
using uvm::testing::emulated;

// ThreadSanitizer cannot follow a multi-threaded fork() (its child dies on its own signals), and
// AddressSanitizer turns mlock into a no-op: those tests run in the plain builds.
#if defined(__SANITIZE_THREAD__)
constexpr bool fork_works = false;
#else
constexpr bool fork_works = true;
#endif
#if defined(__SANITIZE_ADDRESS__)
constexpr bool mlock_works = false;
// GCC 12's AddressSanitizer does not lock its allocator around fork(): a child whose parent had
// a thread inside malloc at that instant (the manager's threads start, and allocate, right after
// it is made) can wait forever on the allocator's lock. Plain builds use glibc's malloc, which
// is fork-safe; a child that allocates runs there.
constexpr bool child_malloc_works = false;
#else
constexpr bool mlock_works = true;
constexpr bool child_malloc_works = fork_works;
#endif

// A kernel whose first index starts, sleeps `delay`, stores, and then sets `finished`; the other
// indices store into every element of `v`. Returns once the kernel has started.
void late_writer(uvm::manager& mgr, uvm::device_view<int> v, std::atomic<bool>& started,
                 std::atomic<bool>& finished, std::chrono::milliseconds delay) {
  mgr.parallel_for(v.size(), [=, &started, &finished](std::size_t i) {
    if (i == 0) {
      started = true;
      std::this_thread::sleep_for(delay);
    }
    v.store(i, 7);
    if (i == 0) finished = true;
  });
  while (!started) std::this_thread::yield();
}

TEST(Lifetime, FreeingARangeWaitsForTheKernelsThatMayUseIt) {
  uvm::manager mgr(emulated());
  auto a = mgr.allocate<int>(1 << 16);
  std::atomic<bool> started{false};
  std::atomic<bool> finished{false};
  late_writer(mgr, a.view(), started, finished, 300ms);
  a.bytes().reset();  // as cudaFree: waits for the device, then frees
  EXPECT_TRUE(finished.load()) << "free did not wait for the kernel";
  mgr.synchronize();
}

TEST(Lifetime, TheCApiFreeWaitsForKernelsToo) {
  uvm::manager mgr(emulated());
  uvm::range r = mgr.allocate(1 << 18);
  std::atomic<bool> started{false};
  std::atomic<bool> finished{false};
  late_writer(mgr, r.view<int>(), started, finished, 300ms);
  void* p = r.release();
  mgr.free(p);
  EXPECT_TRUE(finished.load()) << "free did not wait for the kernel";
  mgr.synchronize();
}

TEST(Lifetime, DestroyingTheManagerWaitsForItsKernels) {
  std::atomic<bool> started{false};
  std::atomic<bool> finished{false};
  {
    uvm::manager mgr(emulated());
    uvm::range r = mgr.allocate(1 << 18);
    late_writer(mgr, r.view<int>(), started, finished, 300ms);
    (void)r.release();  // owned by the manager now: destroyed with it
  }
  EXPECT_TRUE(finished.load()) << "the manager was destroyed under a running kernel";
}

TEST(Lifetime, PastTheBoundTheManagerLeaksRatherThanUnmapUnderAKernel) {
  std::atomic<bool> started{false};
  std::atomic<bool> done{false};
  {
    uvm::config c = emulated();
    c.fault_timeout = 100ms;
    uvm::manager mgr(c);
    uvm::range r = mgr.allocate(1 << 16);
    auto v = r.view<int>();
    mgr.parallel_for(v.size(), [=, &started, &done](std::size_t i) {
      if (i == 0) {
        started = true;
        std::this_thread::sleep_for(800ms);  // far past the fault timeout
        v.store(i, 7);                       // into memory that must still be mapped
        done = true;
      }
    });
    while (!started) std::this_thread::yield();
    (void)r.release();
  }  // logs an error and leaks the ranges, the frames and the device's threads
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (!done && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(10ms);
  EXPECT_TRUE(done.load()) << "the kernel finished its store without a crash";
}

TEST(Lifetime, RangesOutliveTheirManagerObject) {
  uvm::typed_range<int> a;
  {
    uvm::manager mgr(emulated());
    a = mgr.allocate<int>(1000);
    a[10] = 3;
  }
  EXPECT_EQ(a[10], 3);
}

// fork(): the child has no managed memory, and never changes the parent's.
int child_status(void (*body)(int*), int* p) {
  const pid_t pid = fork();
  if (pid == 0) {
    body(p);
    _exit(0);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  return status;
}

TEST(Lifetime, AForkedChildCannotWriteIntoItsParent) {
  if (!fork_works) GTEST_SKIP() << "fork() under ThreadSanitizer";
  uvm::manager mgr(emulated());
  auto a = mgr.allocate<int>(1 << 16);  // 4 pages of 64 KiB
  a[0] = 1;                             // page 0 host-resident, the others untouched
  const int write_resident = child_status([](int* p) { p[0] = 2; }, a.data());
  const int first_touch = child_status([](int* p) { p[1 << 15] = 2; }, a.data());
  const int read = child_status([](int* p) { std::exit(p[0] == 1 ? 3 : 4); }, a.data());
  for (int status : {write_resident, first_touch, read}) {
    EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGSEGV)
        << "the child's access must fault as a stray pointer; status " << status;
  }
  EXPECT_EQ(a[0], 1);
  EXPECT_EQ(mgr.state_of(a.data() + (1 << 15)), uvm::page_state::unpopulated);
  EXPECT_EQ(a[1 << 15], 0);
}

TEST(Lifetime, AForkedChildMayUseItsOwnManager) {
  if (!child_malloc_works) GTEST_SKIP() << "malloc in a fork() child under a sanitizer";
  uvm::manager mgr(emulated());
  auto a = mgr.allocate<int>(1000);
  a[0] = 1;
  const pid_t pid = fork();
  if (pid == 0) {
    uvm::manager child(emulated());
    auto b = child.allocate<int>(1000);
    b[5] = 9;
    _exit(b[5] == 9 ? 0 : 1);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  EXPECT_EQ(a[0], 1);
}

TEST(Lifetime, FourThousandRangesUnderAThousandFileDescriptors) {
  rlimit old{};
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &old), 0);
  rlimit low = old;
  low.rlim_cur = 1024;
  ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &low), 0);
  {
    uvm::manager mgr(emulated());
    std::vector<uvm::typed_range<int>> ranges;
    for (int i = 0; i < 4000; ++i) {
      ranges.push_back(mgr.allocate<int>(1024));
      ranges.back()[0] = i;
    }
    std::FILE* f = std::fopen("/dev/null", "r");
    EXPECT_NE(f, nullptr) << "the application's own files still open";
    if (f != nullptr) std::fclose(f);
    for (int i = 0; i < 4000; i += 397) EXPECT_EQ(ranges[static_cast<std::size_t>(i)][0], i);
  }
  ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &old), 0);
}

TEST(Lifetime, PinningPastTheMemoryLockLimitIsASystemError) {
  if (!fork_works || !mlock_works) GTEST_SKIP() << "fork() or mlock under a sanitizer";
  // In a child, as an unprivileged user where possible: root may lock past any limit.
  const pid_t pid = fork();
  if (pid == 0) {
    if (geteuid() == 0 && setuid(65534) != 0) _exit(10);
    rlimit lim{64 << 10, 64 << 10};
    if (setrlimit(RLIMIT_MEMLOCK, &lim) != 0) _exit(11);
    try {
      uvm::manager mgr(emulated());
      auto a = mgr.allocate<char>(4 << 20);
      mgr.pin_resident(a.data(), a.size(), uvm::location::host());
      _exit(12);  // no error
    } catch (const uvm::system_error& e) {
      _exit(e.code() != 0 ? 0 : 13);
    } catch (...) {
      _exit(14);  // another error type than documented
    }
  }
  int status = 0;
  waitpid(pid, &status, 0);
  ASSERT_TRUE(WIFEXITED(status)) << status;
  EXPECT_EQ(WEXITSTATUS(status), 0) << "12: no error, 14: not a uvm::system_error";
}

TEST(Lifetime, OverlappingPinsAreCounted) {
  uvm::manager mgr(emulated());
  auto a = mgr.allocate<char>(4 << 16);  // 4 pages
  char* p = a.data();
  mgr.pin_resident(p, 2 << 16, uvm::location::host());              // pages 0, 1
  mgr.pin_resident(p + (1 << 16), 2 << 16, uvm::location::host());  // pages 1, 2
  mgr.unpin(p, 2 << 16);
  EXPECT_FALSE(mgr.range_attributes(p, 1 << 16).pinned);
  EXPECT_TRUE(mgr.range_attributes(p + (1 << 16), 2 << 16).pinned) << "the second pin holds";
  mgr.unpin(p + (1 << 16), 2 << 16);
  EXPECT_FALSE(mgr.range_attributes(p, 4 << 16).pinned);
}

// Runs after the C API's default manager would have been destroyed (registered before it).
void use_the_c_api_at_exit() {
  int* p = nullptr;
  if (uvmMallocManaged(reinterpret_cast<void**>(&p), 4096, uvmMemAttachGlobal) != uvmSuccess) {
    _exit(20);
  }
  p[10] = 5;
  _exit(p[10] == 5 && uvmFree(p) == uvmSuccess ? 0 : 21);
}

TEST(LifetimeDeathTest, TheCApiWorksFromStaticDestructors) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(
      {
        std::atexit(use_the_c_api_at_exit);
        void* p = nullptr;
        if (uvmMallocManaged(&p, 100, uvmMemAttachGlobal) != uvmSuccess) _exit(30);
        (void)uvmFree(p);
        std::exit(1);  // static destruction, then the handler above
      },
      ::testing::ExitedWithCode(0), "");
}

}  // namespace
