// The userfaultfd mechanism: system calls on managed memory in every page state, the fault
// failure path, and the fallback when the process may not use userfaultfd.
#include "host/fault/sources/userfaultfd_fault_source.hpp"
#include "tests/migration/emulated_config.hpp"

#include <uvm/uvm.hpp>

#include "tests/common/prefetch_now.hpp"

#include <gtest/gtest.h>

#include <array>
#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

namespace {

using uvm::page_state;

constexpr std::size_t page = 64 << 10;

uvm::config uffd_config() {
  uvm::config c = uvm::testing::emulated(page);
  c.faults = uvm::fault_mechanism::userfaultfd;
  return c;
}

class Userfaultfd : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string why = uvm::detail::userfaultfd_fault_source::unavailable_reason();
    if (!why.empty()) GTEST_SKIP() << "userfaultfd is unavailable here: " << why;
  }
};

// A file of `bytes` bytes whose byte i is `(i * 7 + seed) & 0xff`, open for reading at offset 0.
int pattern_file(std::size_t bytes, unsigned seed) {
  char name[] = "/tmp/uvm-uffd-XXXXXX";
  const int fd = mkstemp(name);
  if (fd < 0) return -1;
  unlink(name);
  std::vector<unsigned char> data(bytes);
  for (std::size_t i = 0; i < bytes; ++i) data[i] = static_cast<unsigned char>(i * 7 + seed);
  if (write(fd, data.data(), bytes) != static_cast<ssize_t>(bytes)) return -1;
  lseek(fd, 0, SEEK_SET);
  return fd;
}

bool holds_pattern(const std::byte* p, std::size_t bytes, unsigned seed, std::size_t from = 0) {
  for (std::size_t i = 0; i < bytes; ++i) {
    if (static_cast<unsigned char>(p[i]) != static_cast<unsigned char>((from + i) * 7 + seed)) {
      return false;
    }
  }
  return true;
}

ssize_t read_fully(int fd, std::byte* p, std::size_t bytes) {
  std::size_t done = 0;
  while (done < bytes) {
    const ssize_t n = read(fd, p + done, bytes - done);
    if (n <= 0) return n < 0 ? -1 : static_cast<ssize_t>(done);
    done += static_cast<std::size_t>(n);
  }
  return static_cast<ssize_t>(done);
}

TEST_F(Userfaultfd, ReadFromAFileIntoUnpopulatedPages) {
  uvm::manager mgr(uffd_config());
  uvm::range r = mgr.allocate(4 * page);
  const int fd = pattern_file(3 * page + 100, 1);
  ASSERT_GE(fd, 0);
  // Starts mid-page and crosses three page boundaries: every page is a first touch by the kernel.
  std::byte* at = r.data() + 200;
  ASSERT_EQ(read(fd, at, 3 * page + 100), static_cast<ssize_t>(3 * page + 100))
      << std::strerror(errno);
  close(fd);
  EXPECT_TRUE(holds_pattern(at, 3 * page + 100, 1));
  for (std::size_t p = 0; p < 4; ++p) {
    EXPECT_EQ(mgr.state_of(r.data() + p * page), page_state::host_exclusive) << p;
  }
  EXPECT_EQ(static_cast<unsigned char>(r.data()[199]), 0u) << "bytes before the read stay zero";
  EXPECT_GE(mgr.stats().first_touch.count, 4u);
}

TEST_F(Userfaultfd, ReadFromAPipeIntoHostSharedAndDeviceResidentPages) {
  uvm::manager mgr(uffd_config());
  uvm::range r = mgr.allocate(3 * page);
  std::memset(r.data(), 0x11, 3 * page);
  // Page 1: a read-only duplicate (read_mostly, on the device too). Page 2: device only.
  mgr.advise(r.data() + page, page, uvm::advice::set_read_mostly);
  ASSERT_EQ(uvm::testing::prefetch_now(mgr, r.data() + page, 2 * page, uvm::location::device()),
            2u);
  ASSERT_EQ(mgr.state_of(r.data()), page_state::host_exclusive);
  ASSERT_EQ(mgr.state_of(r.data() + page), page_state::shared);
  ASSERT_EQ(mgr.state_of(r.data() + 2 * page), page_state::device_exclusive);

  std::array<int, 2> p{};
  ASSERT_EQ(pipe(p.data()), 0);
  fcntl(p[1], F_SETPIPE_SZ, 1 << 20);
  std::vector<std::byte> src(3 * page);
  for (std::size_t i = 0; i < src.size(); ++i) src[i] = static_cast<std::byte>(i * 7 + 3);
  ASSERT_EQ(write(p[1], src.data(), src.size()), static_cast<ssize_t>(src.size()));
  // Into the middle of each page: the kernel writes the host page, upgrades the duplicate and
  // brings the device page back.
  for (std::size_t i = 0; i < 3; ++i) {
    ASSERT_EQ(read_fully(p[0], r.data() + i * page + 1000, 1000), 1000) << std::strerror(errno);
  }
  close(p[0]);
  close(p[1]);
  for (std::size_t i = 0; i < 3; ++i) {
    EXPECT_TRUE(holds_pattern(r.data() + i * page + 1000, 1000, 3, i * 1000)) << "page " << i;
    EXPECT_EQ(static_cast<unsigned char>(r.data()[i * page]), 0x11u) << "page " << i;
    EXPECT_EQ(mgr.state_of(r.data() + i * page), page_state::host_exclusive) << i;
  }
}

TEST_F(Userfaultfd, WriteAndSendFromDeviceResidentPages) {
  uvm::manager mgr(uffd_config());
  uvm::range r = mgr.allocate(2 * page);
  for (std::size_t i = 0; i < 2 * page; ++i) r.data()[i] = static_cast<std::byte>(i * 7 + 5);
  ASSERT_EQ(uvm::testing::prefetch_now(mgr, r.data(), 2 * page, uvm::location::device()), 2u);
  ASSERT_EQ(mgr.state_of(r.data()), page_state::device_exclusive);

  // write() to a file: the kernel reads page 0 from the device.
  char name[] = "/tmp/uvm-uffd-XXXXXX";
  const int fd = mkstemp(name);
  ASSERT_GE(fd, 0);
  unlink(name);
  ASSERT_EQ(write(fd, r.data(), page), static_cast<ssize_t>(page)) << std::strerror(errno);
  std::vector<std::byte> back(page);
  ASSERT_EQ(pread(fd, back.data(), page, 0), static_cast<ssize_t>(page));
  close(fd);
  EXPECT_TRUE(holds_pattern(back.data(), page, 5));

  // send() over a socket from page 1, straddling nothing: a read of a device-only page.
  std::array<int, 2> s{};
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, s.data()), 0);
  const int buf = 1 << 20;
  setsockopt(s[0], SOL_SOCKET, SO_SNDBUF, &buf, sizeof buf);
  setsockopt(s[1], SOL_SOCKET, SO_RCVBUF, &buf, sizeof buf);
  ASSERT_EQ(send(s[0], r.data() + page, 4096, 0), 4096) << std::strerror(errno);
  std::vector<std::byte> got(4096);
  ASSERT_EQ(recv(s[1], got.data(), got.size(), MSG_WAITALL), 4096);
  close(s[0]);
  close(s[1]);
  EXPECT_TRUE(holds_pattern(got.data(), 4096, 5, page));
  // A CPU read brought each page back as a read-only duplicate: the device copy stays valid.
  EXPECT_EQ(mgr.state_of(r.data()), page_state::shared);
  EXPECT_EQ(mgr.state_of(r.data() + page), page_state::shared);
  EXPECT_GE(mgr.stats().serviced.count, 2u);
}

TEST_F(Userfaultfd, PreadAcrossAPageBoundaryIntoADevicePageAndAHole) {
  uvm::manager mgr(uffd_config());
  uvm::range r = mgr.allocate(2 * page);
  std::memset(r.data(), 0x22, page);
  ASSERT_EQ(uvm::testing::prefetch_now(mgr, r.data(), page, uvm::location::device()), 1u);
  const int fd = pattern_file(8192, 9);
  ASSERT_GE(fd, 0);
  // The last 4 KiB of the device page and the first 4 KiB of the unpopulated one.
  std::byte* at = r.data() + page - 4096;
  ASSERT_EQ(pread(fd, at, 8192, 0), 8192) << std::strerror(errno);
  close(fd);
  EXPECT_TRUE(holds_pattern(at, 8192, 9));
  EXPECT_EQ(static_cast<unsigned char>(r.data()[0]), 0x22u)
      << "the rest of the device page came back";
  EXPECT_EQ(mgr.state_of(r.data()), page_state::host_exclusive);
  EXPECT_EQ(mgr.state_of(r.data() + page), page_state::host_exclusive);
}

TEST_F(Userfaultfd, ProtectionsSplitNoMapping) {
  uvm::manager mgr(uffd_config());
  uvm::range r = mgr.allocate(64 * page);
  mgr.advise(r.data(), 64 * page, uvm::advice::set_read_mostly);
  for (std::size_t p = 0; p < 64; p += 2)
    (void)*reinterpret_cast<volatile std::byte*>(r.data() + p * page);
  for (std::size_t p = 1; p < 64; p += 4) r.data()[p * page] = std::byte{1};
  EXPECT_EQ(mgr.state_of(r.data()), page_state::shared);
  EXPECT_EQ(mgr.state_of(r.data() + page), page_state::host_exclusive);
  EXPECT_EQ(mgr.state_of(r.data() + 3 * page), page_state::unpopulated);
  // One mapping in /proc/self/maps covers the whole app view.
  FILE* maps = std::fopen("/proc/self/maps", "r");
  ASSERT_NE(maps, nullptr);
  const auto lo = reinterpret_cast<std::uintptr_t>(r.data());
  const auto hi = lo + 64 * page;
  int overlapping = 0;
  unsigned long a = 0;
  unsigned long b = 0;
  char line[512];
  while (std::fgets(line, sizeof line, maps) != nullptr) {
    if (std::sscanf(line, "%lx-%lx", &a, &b) == 2 && a < hi && b > lo) ++overlapping;
  }
  std::fclose(maps);
  EXPECT_EQ(overlapping, 1);
  EXPECT_EQ(mgr.stats().coarsened_blocks, 0u);
}

TEST_F(Userfaultfd, FirstTouchesFillOnlyTheTouchedMemory) {
  // One byte written per 2 MiB page: each fault zero-fills one OS page, not the whole page, as
  // untouched memory stays unallocated under signals.
  uvm::config c = uffd_config();
  c.page_size = std::size_t{2} << 20;
  uvm::manager mgr(c);
  constexpr std::size_t pages = 128;  // 256 MiB
  uvm::range r = mgr.allocate(pages << 21);
  auto shmem_kib = [] {
    std::ifstream status("/proc/self/status");
    std::string key;
    long kib = -1;
    while (status >> key) {
      if (key == "RssShmem:") {
        status >> kib;
        break;
      }
    }
    return kib;
  };
  const long before = shmem_kib();
  ASSERT_GE(before, 0);
  for (std::size_t p = 0; p < pages; ++p) r.data()[(p << 21) + 12345] = std::byte{1};
  const long grown = shmem_kib() - before;
  EXPECT_LT(grown, 16 * 1024) << "KiB of shared memory after 128 one-byte first touches";
  EXPECT_EQ(mgr.stats().first_touch.count, pages);
  // The rest of each page reads as zeros, and filling it is not counted as a fault.
  std::uint64_t sum = 0;
  for (std::size_t i = 0; i < (std::size_t{2} << 20); i += 4096) {
    sum += static_cast<unsigned char>(r.data()[(std::size_t{5} << 21) + i]);
  }
  EXPECT_EQ(sum, 0u);
  EXPECT_EQ(mgr.stats().cpu_faults(), pages);
}

TEST_F(Userfaultfd, SystemCallsRaceWithPrefetchesAndLoseNothing) {
  // Threads read() from pipes into their own slices while another thread moves the whole range
  // to the device and back: every byte lands, whatever state the page was in when the kernel
  // touched it.
  uvm::manager mgr(uffd_config());
  constexpr std::size_t threads = 4;
  constexpr std::size_t slice = 8 * page;
  uvm::range r = mgr.allocate(threads * slice);
  std::atomic<bool> done{false};
  std::thread mover([&] {
    while (!done.load()) {
      (void)uvm::testing::prefetch_now(mgr, r.data(), threads * slice, uvm::location::device());
      (void)uvm::testing::prefetch_now(mgr, r.data(), threads * slice, uvm::location::host());
    }
  });
  std::vector<std::thread> readers;
  std::atomic<int> bad{0};
  for (std::size_t t = 0; t < threads; ++t) {
    readers.emplace_back([&, t] {
      std::array<int, 2> p{};
      if (pipe(p.data()) != 0) {
        bad.fetch_add(1);
        return;
      }
      std::vector<unsigned char> chunk(4096);
      std::byte* mine = r.data() + t * slice;
      for (int round = 0; round < 40; ++round) {
        for (std::size_t off = 0; off < slice; off += chunk.size()) {
          for (std::size_t i = 0; i < chunk.size(); ++i) {
            chunk[i] = static_cast<unsigned char>(round * 31 + t + off / 4096 + i);
          }
          if (write(p[1], chunk.data(), chunk.size()) != static_cast<ssize_t>(chunk.size()) ||
              read_fully(p[0], mine + off, chunk.size()) != static_cast<ssize_t>(chunk.size())) {
            bad.fetch_add(1);
          }
        }
        for (std::size_t off = 0; off < slice; ++off) {
          const auto want = static_cast<unsigned char>(round * 31 + t + off / 4096 + off % 4096);
          if (static_cast<unsigned char>(mine[off]) != want) {
            bad.fetch_add(1);
            break;
          }
        }
      }
      close(p[0]);
      close(p[1]);
    });
  }
  for (auto& t : readers) t.join();
  done = true;
  mover.join();
  EXPECT_EQ(bad.load(), 0);
  EXPECT_GT(mgr.stats().serviced.count, 0u) << "some reads found their page on the device";
}

TEST_F(Userfaultfd, CpuReadsBetweenKernelsLeaveDuplicatesAndOnlyWrittenPagesMoveAgain) {
  // A CPU read of a device page leaves both copies valid (no mapping to split under
  // userfaultfd), so a kernel that reads the data again needs no copy; a CPU write makes the
  // device copy stale, and exactly the written pages move again.
  uvm::manager mgr(uffd_config());
  constexpr std::size_t pages = 16;
  constexpr std::size_t per_page = page / sizeof(std::uint32_t);
  auto x = mgr.allocate<std::uint32_t>(pages * per_page);
  for (std::size_t i = 0; i < x.size(); ++i) x[i] = static_cast<std::uint32_t>(i);
  const auto v = x.view();
  std::atomic<std::uint64_t> device_sum{0};
  auto kernel_reads = [&] {
    device_sum = 0;
    mgr.parallel_for(pages, [=, &device_sum](std::size_t p) {
      std::uint64_t s = 0;
      for (std::size_t i = 0; i < per_page; ++i) s += v.load(p * per_page + i);
      device_sum.fetch_add(s);
    });
    mgr.synchronize();
  };
  auto cpu_sum = [&] {
    std::uint64_t s = 0;
    for (std::size_t i = 0; i < x.size(); ++i) s += x[i];
    return s;
  };
  const std::uint64_t expected = std::uint64_t{x.size()} * (x.size() - 1) / 2;
  kernel_reads();  // round 0: every page moves to the device
  ASSERT_EQ(device_sum.load(), expected);
  ASSERT_EQ(cpu_sum(), expected);
  EXPECT_EQ(mgr.state_of(x.data()), page_state::shared);
  const std::uint64_t h2d = mgr.stats().bytes_host_to_device;
  EXPECT_EQ(h2d, pages * page);
  for (int round = 0; round < 3; ++round) {  // reads on both sides: nothing moves either way
    kernel_reads();
    EXPECT_EQ(device_sum.load(), expected);
    EXPECT_EQ(cpu_sum(), expected);
  }
  EXPECT_EQ(mgr.stats().bytes_host_to_device, h2d) << "bytes moved after the first round";
  // CPU writes to 3 pages: the next kernel copies exactly those.
  for (const std::size_t p : {1u, 7u, 12u}) x[p * per_page + 5] += 1000;
  kernel_reads();
  EXPECT_EQ(device_sum.load(), expected + 3000);
  EXPECT_EQ(mgr.stats().bytes_host_to_device - h2d, 3 * page);
}

// Runs `body` in a child that has dropped root (uid and gid 65534, so no CAP_SYS_PTRACE and no
// access to /dev/userfaultfd) with its stderr captured. @return the child's exit status and
// what it wrote to stderr.
std::pair<int, std::string> unprivileged(void (*body)()) {
  std::array<int, 2> p{};
  if (pipe(p.data()) != 0) return {-1, "pipe failed"};
  const pid_t pid = fork();
  if (pid == 0) {
    dup2(p[1], STDERR_FILENO);
    close(p[0]);
    if (setresgid(65534, 65534, 65534) != 0 || setresuid(65534, 65534, 65534) != 0) _exit(90);
    body();
    _exit(0);
  }
  close(p[1]);
  std::string out;
  char buf[4096];
  ssize_t n;
  while ((n = read(p[0], buf, sizeof buf)) > 0) out.append(buf, static_cast<std::size_t>(n));
  close(p[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  return {status, out};
}

TEST(UserfaultfdFallback, WithoutPermissionAutoUsesSignalsAndSaysWhy) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root to drop it";
  std::ifstream sysctl("/proc/sys/vm/unprivileged_userfaultfd");
  int unprivileged_ok = 0;
  if (sysctl >> unprivileged_ok; unprivileged_ok != 0) {
    GTEST_SKIP() << "vm.unprivileged_userfaultfd is 1: an unprivileged process may use it";
  }
  const auto [status, err] = unprivileged(+[] {
    uvm::config c = uvm::testing::emulated(page);
    c.faults = uvm::fault_mechanism::automatic;
    c.log = uvm::log_level::info;
    uvm::manager mgr(c);
    uvm::range r = mgr.allocate(page);
    r.data()[5] = std::byte{7};  // faults work, through signals
    if (r.data()[5] != std::byte{7} || mgr.state_of(r.data()) != page_state::host_exclusive) {
      _exit(3);
    }
  });
  ASSERT_TRUE(WIFEXITED(status)) << status << "\n" << err;
  EXPECT_EQ(WEXITSTATUS(status), 0) << err;
  EXPECT_NE(err.find("fault mechanism auto: using signal, as userfaultfd is unavailable: no "
                     "permission"),
            std::string::npos)
      << err;
  EXPECT_NE(err.find("vm.unprivileged_userfaultfd = 0"), std::string::npos) << err;
}

TEST(UserfaultfdFallback, WithoutPermissionAskingForUserfaultfdIsAnError) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root to drop it";
  const auto [status, err] = unprivileged(+[] {
    uvm::config c = uvm::testing::emulated(page);
    c.faults = uvm::fault_mechanism::userfaultfd;
    try {
      uvm::manager mgr(c);
    } catch (const uvm::error& e) {
      std::fprintf(stderr, "error: %s\n", e.what());
      _exit(0);
    }
    _exit(4);
  });
  ASSERT_TRUE(WIFEXITED(status)) << status << "\n" << err;
  EXPECT_EQ(WEXITSTATUS(status), 0) << err;
  EXPECT_NE(err.find("error: uvm: the userfaultfd fault mechanism is unavailable: no permission"),
            std::string::npos)
      << err;
}

}  // namespace
