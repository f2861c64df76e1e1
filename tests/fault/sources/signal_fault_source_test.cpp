#include <uvm/uvm.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <cerrno>
#include <csetjmp>
#include <csignal>

#include <sys/mman.h>
#include <unistd.h>

namespace {

// A foreign page: ordinary memory the library does not manage, inaccessible until the
// application's own handler opens it.
struct foreign_page {
  foreign_page() {
    p = static_cast<char*>(mmap(nullptr, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
  }
  ~foreign_page() { munmap(p, 4096); }
  char* p;
};

std::atomic<void*> g_seen_addr{nullptr};
std::atomic<int> g_calls{0};
sigjmp_buf g_jump;

void siginfo_handler(int, siginfo_t* info, void*) {
  g_seen_addr = info->si_addr;
  g_calls.fetch_add(1);
  mprotect(reinterpret_cast<void*>(reinterpret_cast<std::uintptr_t>(info->si_addr) & ~4095ul), 4096,
           PROT_READ | PROT_WRITE);
}

void plain_handler(int) {
  g_calls.fetch_add(1);
  siglongjmp(g_jump, 1);
}

struct scoped_action {
  explicit scoped_action(const struct sigaction& sa) { sigaction(SIGSEGV, &sa, &old); }
  ~scoped_action() { sigaction(SIGSEGV, &old, nullptr); }
  struct sigaction old {};
};

// These tests are about the signal mechanism, whatever the run's default.
uvm::config signals() {
  uvm::config c = uvm::config::from_env();
  c.faults = uvm::fault_mechanism::signal;
  return c;
}

TEST(SignalFaultSource, PreviousSiginfoHandlerStillGetsForeignFaults) {
  struct sigaction sa {};
  sa.sa_sigaction = siginfo_handler;
  sa.sa_flags = SA_SIGINFO;
  sigemptyset(&sa.sa_mask);
  scoped_action installed(sa);
  g_calls = 0;
  {
    uvm::manager mgr(signals());
    uvm::range r = mgr.allocate(1 << 20);
    foreign_page f;
    r.data()[0] = std::byte{1};  // a managed fault: not forwarded
    EXPECT_EQ(g_calls.load(), 0);
    f.p[10] = 'x';  // a foreign fault: forwarded with its siginfo
    EXPECT_EQ(g_calls.load(), 1);
    EXPECT_EQ(g_seen_addr.load(), f.p + 10);
    EXPECT_EQ(f.p[10], 'x');
    r.data()[1 << 19] = std::byte{2};
    EXPECT_EQ(g_calls.load(), 1);
    EXPECT_EQ(mgr.stats().first_touch.count, 2u);
  }
  // The last manager is gone: the application's handler is installed again.
  struct sigaction now {};
  sigaction(SIGSEGV, nullptr, &now);
  EXPECT_EQ(now.sa_sigaction, siginfo_handler);
}

TEST(SignalFaultSource, PreviousPlainHandlerStillGetsForeignFaults) {
  struct sigaction sa {};
  sa.sa_handler = plain_handler;
  sigemptyset(&sa.sa_mask);
  scoped_action installed(sa);
  g_calls = 0;
  uvm::manager mgr(signals());
  uvm::range r = mgr.allocate(1 << 20);
  foreign_page f;
  if (sigsetjmp(g_jump, 1) == 0) {
    f.p[0] = 'x';
    ADD_FAILURE() << "the foreign write did not fault";
  }
  EXPECT_EQ(g_calls.load(), 1);
  r.data()[0] = std::byte{1};  // managed faults still work after the jump
  EXPECT_EQ(r.data()[0], std::byte{1});
  EXPECT_EQ(g_calls.load(), 1);
}

TEST(SignalFaultSource, IgnoredSentSignalStaysIgnored) {
  struct sigaction sa {};
  sa.sa_handler = SIG_IGN;
  sigemptyset(&sa.sa_mask);
  scoped_action installed(sa);
  uvm::manager mgr(signals());
  uvm::range r = mgr.allocate(1 << 20);
  EXPECT_EQ(raise(SIGSEGV), 0);  // sent, not a fault: ignored as without the library
  r.data()[0] = std::byte{1};    // and the library's handler still serves managed faults
  EXPECT_EQ(r.data()[0], std::byte{1});
}

TEST(SignalFaultSourceDeathTest, ForeignNullDereferenceDiesWithSigsegv) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(
      {
        uvm::manager mgr(signals());
        uvm::range r = mgr.allocate(1 << 20);
        r.data()[0] = std::byte{1};
        // A wild pointer just above null (not null itself: that would be UB the sanitizers stop).
        volatile int* wild = reinterpret_cast<volatile int*>(std::uintptr_t{64});
        *wild = 1;
      },
      testing::KilledBySignal(SIGSEGV), "");
}

TEST(SignalFaultSourceDeathTest, ForeignFaultWithIgnoredSigsegvStillDies) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(
      {
        signal(SIGSEGV, SIG_IGN);
        uvm::manager mgr(signals());
        // A wild pointer just above null (not null itself: that would be UB the sanitizers stop).
        volatile int* wild = reinterpret_cast<volatile int*>(std::uintptr_t{64});
        *wild = 1;
      },
      testing::KilledBySignal(SIGSEGV), "");
}

TEST(SignalFaultSourceDeathTest, ExecutingManagedMemoryIsNotLoopedOn) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(
      {
        uvm::manager mgr(signals());
        uvm::range r = mgr.allocate(1 << 20);
        r.data()[0] = std::byte{0xc3};  // ret, but the page is never executable
        reinterpret_cast<void (*)()>(r.data())();
      },
      testing::KilledBySignal(SIGSEGV), "");
}

}  // namespace

namespace {

TEST(SignalFaultSource, AProtectionChangedBehindTheLibrarysBackIsRepaired) {
  uvm::manager mgr(signals());
  uvm::range r = mgr.allocate(1 << 20);
  auto* p = reinterpret_cast<volatile int*>(r.data());
  p[0] = 1;  // host_exclusive, read-write
  ASSERT_EQ(mprotect(r.data(), 4096, PROT_READ), 0);
  for (int i = 0; i < 10; ++i) p[0] = p[0] + 1;  // each a fault its state allows: healed once
  EXPECT_EQ(p[0], 11);
  EXPECT_GE(mgr.stats().spurious_faults, 1u);
  EXPECT_LE(mgr.stats().spurious_faults, 2u) << "the repair holds: no fault per access";
}

TEST(SignalFaultSource, SystemCallsOnProtectedPagesFailWithEfault) {
  // The kernel does not deliver SIGSEGV for its own accesses: under signals, read() into a page
  // the CPU may not write fails (userfaultfd serves it; see userfaultfd_fault_source_test).
  uvm::manager mgr(signals());
  uvm::range r = mgr.allocate(64 << 10);
  int p[2];
  ASSERT_EQ(pipe(p), 0);
  ASSERT_EQ(write(p[1], "abcd", 4), 4);
  errno = 0;
  EXPECT_EQ(read(p[0], r.data(), 4), -1);
  EXPECT_EQ(errno, EFAULT);
  close(p[0]);
  close(p[1]);
  EXPECT_EQ(mgr.state_of(r.data()), uvm::page_state::unpopulated);
}

}  // namespace
