#include "host/backend/emulated/emulated_backend.hpp"

#include "host/backend/emulated/copy_engine.hpp"

#include "host/common/clock.hpp"
#include "host/common/futex.hpp"

#include <uvm/detail/current_device.hpp>
#include <uvm/error.hpp>

#include <gtest/gtest.h>

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace uvm::detail {
namespace {

using namespace std::chrono_literals;

// Long enough never to expire on a loaded machine; a broken backend fails after it, not hangs.
constexpr auto patience = 10s;

// A flag the test opens; kernels wait on it with a bound so that a bug fails instead of hanging.
class gate {
 public:
  void open() noexcept {
    word_.store(1, std::memory_order_release);
    futex_wake_all(word_);
  }
  [[nodiscard]] bool is_open() const noexcept { return word_.load(std::memory_order_acquire) != 0; }
  [[nodiscard]] bool wait_open(std::chrono::nanoseconds timeout = patience) noexcept {
    const timespec deadline = deadline_after(timeout);
    while (!is_open()) {
      if (!futex_wait_until(word_, 0, deadline)) return is_open();
    }
    return true;
  }

 private:
  std::atomic<std::uint32_t> word_{0};
};

std::vector<unsigned char> pattern(std::size_t bytes, unsigned seed) {
  std::vector<unsigned char> v(bytes);
  for (std::size_t i = 0; i < bytes; ++i) {
    v[i] = static_cast<unsigned char>((i * 131 + (i >> 8) * 7 + seed) & 0xff);
  }
  return v;
}

// Device memory freed when the test ends, even on a failed assertion.
struct device_buffer {
  device_buffer(backend& b, std::size_t bytes) : b(b), p(b.allocate_device(bytes)) {}
  ~device_buffer() { b.free_device(p); }
  device_buffer(const device_buffer&) = delete;
  device_buffer& operator=(const device_buffer&) = delete;
  backend& b;
  void* p;
};

TEST(EmulatedBackend, NameAndWorkers) {
  emulated_backend b;
  EXPECT_EQ(b.name(), "emulated");
  EXPECT_GE(b.kernel_workers(), 2u);
  emulated_backend one(1);
  EXPECT_EQ(one.kernel_workers(), 1u);
}

TEST(EmulatedBackend, DeviceMemory) {
  emulated_backend b;
  void* p = b.allocate_device(1 << 20);
  ASSERT_NE(p, nullptr);
  std::memset(p, 0xab, 1 << 20);  // writable host RAM
  b.free_device(p);
  b.free_device(nullptr);
  int not_ours = 0;
  b.free_device(&not_ours);  // ignored
  EXPECT_THROW((void)b.allocate_device(std::size_t{1} << 62), uvm::out_of_memory);
  EXPECT_THROW((void)b.allocate_device(0), uvm::invalid_argument);
  // Freed on destruction if the caller forgot.
  (void)b.allocate_device(4096);
}

// A GPU maps its memory in large pages, so its copy engines never fault on a frame's first use.
// Emulated device memory is 2 MiB aligned and eligible for huge pages: a copy into a fresh frame
// faults once per 2 MiB, not once per 4 KiB page.
TEST(EmulatedBackend, DeviceMemoryIsMappedInHugePages) {
  std::ifstream mode_file("/sys/kernel/mm/transparent_hugepage/enabled");
  std::string mode;
  std::getline(mode_file, mode);
  if (mode.empty() || mode.find("[never]") != std::string::npos) {
    GTEST_SKIP() << "transparent huge pages are off on this machine";
  }
  emulated_backend b;
  const device_buffer buf(b, (std::size_t{8} << 20) + 4096);
  const auto start = reinterpret_cast<std::uintptr_t>(buf.p);
  EXPECT_EQ(start % (std::size_t{2} << 20), 0u);
  std::ifstream smaps("/proc/self/smaps");
  bool found = false;
  bool eligible = false;
  for (std::string line; std::getline(smaps, line);) {
    std::uintptr_t lo = 0;
    std::uintptr_t hi = 0;
    if (std::sscanf(line.c_str(), "%lx-%lx ", &lo, &hi) == 2 && line.find(' ') < line.find(':')) {
      found = lo <= start && start < hi;
      continue;
    }
    if (found && line.rfind("THPeligible:", 0) == 0) {
      eligible = line.find('1') != std::string::npos;
      break;
    }
  }
  EXPECT_TRUE(eligible) << "device memory at " << buf.p << " is not eligible for huge pages";
}

TEST(EmulatedBackend, RegisterHost) {
  emulated_backend b;
  std::vector<char> host(8192);
  EXPECT_EQ(b.register_host(host.data(), 4096, host_registration::read_write), host.data());
  EXPECT_THROW((void)b.register_host(host.data(), 4096, host_registration::read_write),
               uvm::invalid_argument);
  EXPECT_THROW((void)b.register_host(host.data() + 100, 10, host_registration::read_write),
               uvm::invalid_argument);
  EXPECT_THROW((void)b.register_host(host.data() - 10, 11, host_registration::read_write),
               uvm::invalid_argument);
  EXPECT_EQ(b.register_host(host.data() + 4096, 4096, host_registration::read_write),
            host.data() + 4096);  // adjacent is fine
  EXPECT_THROW((void)b.register_host(nullptr, 4096, host_registration::read_write),
               uvm::invalid_argument);
  b.unregister_host(host.data());
  b.unregister_host(host.data() + 1);  // unknown: ignored
  EXPECT_EQ(b.register_host(host.data(), 4096, host_registration::read_write), host.data());
  b.unregister_host(host.data());
  b.unregister_host(host.data() + 4096);
}

TEST(EmulatedBackend, CopiesLandTheRightBytes) {
  emulated_backend b;
  const stream s = b.create_stream("copy");
  unsigned seed = 1;
  for (const std::size_t bytes : {std::size_t{1}, std::size_t{3}, std::size_t{4096},
                                  std::size_t{65537}, std::size_t{64} << 20}) {
    SCOPED_TRACE(bytes);
    const std::vector<unsigned char> src = pattern(bytes, seed++);
    std::vector<unsigned char> back(bytes, 0);
    device_buffer dev(b, bytes);
    std::memset(dev.p, 0, bytes);
    b.copy_async(dev.p, src.data(), bytes, copy_kind::host_to_device, s);
    b.copy_async(back.data(), dev.p, bytes, copy_kind::device_to_host, s);
    const event e = b.record(s);
    ASSERT_TRUE(b.wait(e, patience));
    EXPECT_EQ(std::memcmp(dev.p, src.data(), bytes), 0);
    EXPECT_TRUE(back == src);
  }
  EXPECT_EQ(b.take_error(), "");
}

TEST(EmulatedBackend, ByteCountersAddUp) {
  emulated_backend b;
  const stream s = b.create_stream("count");
  std::vector<char> host(10000);
  device_buffer dev(b, 10000);
  b.copy_async(dev.p, host.data(), 10000, copy_kind::host_to_device, s);
  b.copy_async(dev.p, host.data(), 1, copy_kind::host_to_device, s);
  b.copy_async(host.data(), dev.p, 777, copy_kind::device_to_host, s);
  b.copy_async(host.data(), dev.p, 0, copy_kind::device_to_host, s);
  ASSERT_TRUE(b.wait(b.record(s), patience));
  EXPECT_EQ(b.bytes_host_to_device(), 10001u);
  EXPECT_EQ(b.bytes_device_to_host(), 777u);
}

// Each round copies a block of `round`s, publishes `round` in a word and runs a kernel that
// checks both; all rounds are enqueued before any wait, so only stream order keeps them apart.
TEST(EmulatedBackend, OperationsOnOneStreamRunInOrder) {
  emulated_backend b;
  const stream s = b.create_stream("order");
  constexpr std::size_t words = 4096;
  constexpr std::uint32_t rounds = 200;
  device_buffer block(b, words * sizeof(std::uint32_t));
  device_buffer flag(b, sizeof(std::uint32_t));
  device_buffer out(b, rounds * sizeof(std::uint32_t));
  auto* dev_block = static_cast<std::uint32_t*>(block.p);
  auto* dev_flag = static_cast<std::uint32_t*>(flag.p);
  auto* dev_out = static_cast<std::uint32_t*>(out.p);
  *dev_flag = 0;
  std::vector<std::vector<std::uint32_t>> sources;
  for (std::uint32_t r = 1; r <= rounds; ++r) sources.emplace_back(words, r);
  std::vector<std::uint32_t> results(rounds, 0);
  std::vector<std::uint32_t> flags(rounds + 1);
  for (std::uint32_t r = 0; r <= rounds; ++r) flags[r] = r;
  std::atomic<std::size_t> mismatches{0};
  for (std::uint32_t r = 1; r <= rounds; ++r) {
    b.copy_async(dev_block, sources[r - 1].data(), words * sizeof(std::uint32_t),
                 copy_kind::host_to_device, s);
    b.copy_entries_async(dev_flag, &flags[r], 1, s);
    b.launch(
        words,
        [&, r](std::size_t begin, std::size_t end) {
          for (std::size_t i = begin; i < end; ++i) {
            if (dev_block[i] != r) mismatches.fetch_add(1, std::memory_order_relaxed);
          }
          if (begin == 0) dev_out[r - 1] = std::atomic_ref<std::uint32_t>(*dev_flag).load();
        },
        s);
  }
  b.copy_async(results.data(), dev_out, rounds * sizeof(std::uint32_t), copy_kind::device_to_host,
               s);
  const event e = b.record(s);
  ASSERT_TRUE(b.wait(e, patience));
  EXPECT_EQ(mismatches.load(), 0u);
  for (std::uint32_t r = 1; r <= rounds; ++r) EXPECT_EQ(results[r - 1], r);
}

// Each stream's kernel opens its own gate and then waits for the other's: if the streams ran one
// after the other, the first kernel would time out.
TEST(EmulatedBackend, StreamsRunConcurrently) {
  emulated_backend b(2);  // a worker for each one-chunk kernel
  const stream sa = b.create_stream("a");
  const stream sb = b.create_stream("b");
  gate a_ran, b_ran;
  std::atomic<bool> a_saw_b{false}, b_saw_a{false};
  b.launch(
      1,
      [&](std::size_t, std::size_t) {
        a_ran.open();
        a_saw_b = b_ran.wait_open();
      },
      sa);
  b.launch(
      1,
      [&](std::size_t, std::size_t) {
        b_ran.open();
        b_saw_a = a_ran.wait_open();
      },
      sb);
  const event ea = b.record(sa);
  const event eb = b.record(sb);
  ASSERT_TRUE(b.wait(ea, 3 * patience));
  ASSERT_TRUE(b.wait(eb, 3 * patience));
  EXPECT_TRUE(a_saw_b);
  EXPECT_TRUE(b_saw_a);
}

// Strict as a GPU: a kernel that holds every worker keeps another stream's kernel from starting
// until it returns (no block is pre-empted), however long it waits.
TEST(EmulatedBackend, AKernelHoldingEveryWorkerKeepsOthersFromStarting) {
  emulated_backend b(2);
  const stream sa = b.create_stream("a");
  const stream sb = b.create_stream("b");
  gate both_held, b_ran;
  std::atomic<int> holding{0};
  std::atomic<bool> a_saw_b{true};
  b.launch(
      2,  // two chunks: both workers
      [&](std::size_t, std::size_t) {
        if (holding.fetch_add(1) + 1 == 2) both_held.open();
        if (!b_ran.wait_open(std::chrono::milliseconds(300))) a_saw_b = false;
      },
      sa);
  ASSERT_TRUE(both_held.wait_open());
  b.launch(
      1, [&](std::size_t, std::size_t) { b_ran.open(); }, sb);
  ASSERT_TRUE(b.wait(b.record(sb), patience));
  ASSERT_TRUE(b.wait(b.record(sa), patience));
  EXPECT_FALSE(a_saw_b.load()) << "the second kernel started while the first held every worker";
}

// cudaFree waits for the device: so does free_device.
// cudaFree waits for the device, and CUDA may order allocations and registrations after the
// kernels in flight too: the emulated device makes all of them wait until no kernel runs, so a
// call that would hang on a GPU (a kernel waiting for its caller) cannot pass unnoticed here.
// Each memory call (allocating on device `on`) made while a kernel runs on `s` returns only
// after the kernel.
void expect_memory_calls_wait_for(emulated_backend& b, const stream& s, device_id on) {
  void* host = mmap(nullptr, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  ASSERT_NE(host, MAP_FAILED);
  void* device = nullptr;
  const std::function<void()> calls[] = {
      [&] { device = b.allocate_device(4096, on); },
      [&] { (void)b.register_host(host, 8192, host_registration::read_write); },
      [&] { b.unregister_host(host); },
      [&] { b.free_device(device); },
  };
  for (const auto& call : calls) {
    std::atomic<bool> started{false};
    std::atomic<bool> done{false};
    b.launch(
        1,
        [&](std::size_t, std::size_t) {
          started = true;
          std::this_thread::sleep_for(std::chrono::milliseconds(100));
          done = true;
        },
        s);
    while (!started) std::this_thread::yield();  // running, not only queued
    call();
    EXPECT_TRUE(done.load()) << "a memory call on device " << on << " returned while a kernel "
                             << "ran on device " << b.device_of(s);
    ASSERT_TRUE(b.wait(b.record(s), patience));
  }
  munmap(host, 8192);
  EXPECT_EQ(b.take_error(), "");
}

TEST(EmulatedBackend, MemoryCallsWaitForRunningKernels) {
  emulated_backend b(2);
  expect_memory_calls_wait_for(b, b.create_stream("k"), 0);
}

// Registration looks at the mapping without touching the memory: a range registered late (once
// no kernel runs) may be in use by the application meanwhile, and no store of it may be undone.
TEST(EmulatedBackend, RegisteringMemoryInUseLosesNoStore) {
  emulated_backend b;
  constexpr std::size_t bytes = 8192;
  auto* p = static_cast<unsigned char*>(
      mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0));
  ASSERT_NE(p, MAP_FAILED);
  std::atomic<bool> stop{false};
  std::atomic<std::uint64_t> lost{0};
  std::thread writer([&] {
    for (unsigned v = 1; !stop.load(std::memory_order_relaxed); ++v) {
      for (unsigned char* at : {p, p + bytes - 1}) {
        std::atomic_ref<unsigned char> byte(*at);
        byte.store(static_cast<unsigned char>(v), std::memory_order_relaxed);
        if (byte.load(std::memory_order_relaxed) != static_cast<unsigned char>(v)) ++lost;
      }
    }
  });
  for (int i = 0; i < 3000; ++i) {
    (void)b.register_host(p, bytes, host_registration::read_write);
    b.unregister_host(p);
  }
  stop = true;
  writer.join();
  EXPECT_EQ(lost.load(), 0u) << "registration wrote back bytes the application had changed";
  munmap(p, bytes);
}

// cudaHostRegister refuses a read-only mapping unless it is registered read-only.
TEST(EmulatedBackend, ReadOnlyMemoryMustBeRegisteredReadOnly) {
  emulated_backend b;
  void* p = mmap(nullptr, 8192, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  ASSERT_NE(p, MAP_FAILED);
  EXPECT_THROW((void)b.register_host(p, 8192, host_registration::read_write), uvm::error);
  EXPECT_EQ(b.register_host(p, 8192, host_registration::read_only), p);
  b.unregister_host(p);
  munmap(p, 8192);
}

// There is no legacy default stream: every operation names one of the library's streams.
TEST(EmulatedBackend, ThereIsNoDefaultStream) {
  emulated_backend b;
  std::uint32_t word = 0;
  EXPECT_THROW(b.copy_async(&word, &word, 4, copy_kind::host_to_device, stream{}),
               uvm::invalid_argument);
  EXPECT_THROW((void)b.record(stream{}), uvm::invalid_argument);
}

// Blocks a copy engine deterministically: a copy whose source page is missing under
// userfaultfd stalls in the engine thread until the test supplies the page.
class stalled_source {
 public:
  explicit stalled_source(std::size_t bytes = page_bytes) : bytes_(bytes) {
    fd_ = static_cast<int>(syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK | UFFD_USER_MODE_ONLY));
    if (fd_ < 0) return;
    uffdio_api api{};
    api.api = UFFD_API;
    page_ = mmap(nullptr, bytes_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    uffdio_register reg{};
    reg.range = {reinterpret_cast<std::uint64_t>(page_), bytes_};
    reg.mode = UFFDIO_REGISTER_MODE_MISSING;
    ok_ = page_ != MAP_FAILED && ioctl(fd_, UFFDIO_API, &api) == 0 &&
          ioctl(fd_, UFFDIO_REGISTER, &reg) == 0;
  }
  ~stalled_source() {
    supply();  // never leave an engine stuck, whatever the test asserted
    if (page_ != MAP_FAILED) munmap(page_, bytes_);
    if (fd_ >= 0) close(fd_);
  }
  stalled_source(const stalled_source&) = delete;
  stalled_source& operator=(const stalled_source&) = delete;

  [[nodiscard]] bool ok() const noexcept { return ok_; }
  [[nodiscard]] const void* page() const noexcept { return page_; }

  /// @return true once a thread has faulted on the page.
  [[nodiscard]] bool wait_fault() {
    pollfd p{fd_, POLLIN, 0};
    if (poll(&p, 1, static_cast<int>(std::chrono::milliseconds(patience).count())) != 1) {
      return false;
    }
    uffd_msg msg{};
    return read(fd_, &msg, sizeof(msg)) == sizeof(msg) && msg.event == UFFD_EVENT_PAGEFAULT;
  }

  /// Fills the source with `fill`, waking the faulting thread.
  void supply(unsigned char fill = 0x5a) {
    if (!ok_ || supplied_) return;
    std::vector<unsigned char> data(bytes_, fill);
    uffdio_copy c{};
    c.dst = reinterpret_cast<std::uint64_t>(page_);
    c.src = reinterpret_cast<std::uint64_t>(data.data());
    c.len = bytes_;
    supplied_ = ioctl(fd_, UFFDIO_COPY, &c) == 0;
  }

  static constexpr std::size_t page_bytes = 4096;

 private:
  std::size_t bytes_;
  int fd_ = -1;
  void* page_ = MAP_FAILED;
  bool ok_ = false;
  bool supplied_ = false;
};

TEST(EmulatedBackend, CopyEnginesOverlapAcrossDirectionsAndSerialiseWithin) {
  // Queued: the first copy stalls on its source, which the test thread itself supplies.
  emulated_backend b(0, 1, emulated_backend::short_copies::queued);
  stalled_source stalled;
  if (!stalled.ok()) GTEST_SKIP() << "userfaultfd is not available here";
  const stream s1 = b.create_stream("h2d-1");
  const stream s2 = b.create_stream("h2d-2");
  const stream s3 = b.create_stream("d2h");
  device_buffer dev(b, 3 * stalled_source::page_bytes);
  auto* d = static_cast<unsigned char*>(dev.p);
  std::memset(d, 0, 3 * stalled_source::page_bytes);

  b.copy_async(d, stalled.page(), stalled_source::page_bytes, copy_kind::host_to_device, s1);
  ASSERT_TRUE(stalled.wait_fault()) << "the H2D engine never touched the source";
  const event e1 = b.record(s1);

  const std::vector<unsigned char> src = pattern(stalled_source::page_bytes, 9);
  b.copy_async(d + stalled_source::page_bytes, src.data(), src.size(), copy_kind::host_to_device,
               s2);
  const event e2 = b.record(s2);

  std::vector<unsigned char> back(stalled_source::page_bytes, 0);
  std::memset(d + 2 * stalled_source::page_bytes, 0x77, stalled_source::page_bytes);
  b.copy_async(back.data(), d + 2 * stalled_source::page_bytes, back.size(),
               copy_kind::device_to_host, s3);
  const event e3 = b.record(s3);

  EXPECT_TRUE(b.wait(e3, patience)) << "D2H waited for the stalled H2D copy";
  EXPECT_FALSE(b.wait(e2, 50ms)) << "a second H2D copy overtook the stalled one";
  EXPECT_FALSE(b.query(e1));
  stalled.supply(0x5a);
  ASSERT_TRUE(b.wait(e1, patience));
  ASSERT_TRUE(b.wait(e2, patience));
  EXPECT_EQ(back, std::vector<unsigned char>(back.size(), 0x77));
  EXPECT_EQ(d[0], 0x5a);
  EXPECT_EQ(d[stalled_source::page_bytes - 1], 0x5a);
  EXPECT_EQ(std::memcmp(d + stalled_source::page_bytes, src.data(), src.size()), 0);
}

// Large copies run on the engine's thread, small ones on their stream's: one engine still runs
// one copy at a time, whichever thread runs it.
TEST(EmulatedBackend, ASmallCopyWaitsForALargeOneOnTheSameEngine) {
  emulated_backend b;
  stalled_source stalled(copy_engine::handoff_bytes);
  if (!stalled.ok()) GTEST_SKIP() << "userfaultfd is not available here";
  const stream big = b.create_stream("big");
  const stream small = b.create_stream("small");
  const stream other = b.create_stream("other-way");
  device_buffer dev(b, copy_engine::handoff_bytes + 2 * 4096);
  auto* d = static_cast<unsigned char*>(dev.p);
  b.copy_async(d, stalled.page(), copy_engine::handoff_bytes, copy_kind::host_to_device, big);
  ASSERT_TRUE(stalled.wait_fault()) << "the large copy never started";
  const event e_big = b.record(big);
  const std::vector<unsigned char> src = pattern(4096, 3);
  b.copy_async(d + copy_engine::handoff_bytes, src.data(), src.size(), copy_kind::host_to_device,
               small);
  const event e_small = b.record(small);
  std::vector<unsigned char> back(4096, 0);
  std::memset(d + copy_engine::handoff_bytes + 4096, 0x66, 4096);
  b.copy_async(back.data(), d + copy_engine::handoff_bytes + 4096, back.size(),
               copy_kind::device_to_host, other);
  EXPECT_TRUE(b.wait(b.record(other), patience)) << "D2H waited for the stalled H2D copy";
  EXPECT_FALSE(b.wait(e_small, 50ms)) << "a small copy overtook the large one on its engine";
  stalled.supply(0x21);
  ASSERT_TRUE(b.wait(e_big, patience));
  ASSERT_TRUE(b.wait(e_small, patience));
  EXPECT_EQ(d[copy_engine::handoff_bytes - 1], 0x21);
  EXPECT_EQ(std::memcmp(d + copy_engine::handoff_bytes, src.data(), src.size()), 0);
  EXPECT_EQ(back, std::vector<unsigned char>(back.size(), 0x66));
}

// A short copy issued on an idle stream with its engine free lands before copy_async returns, on
// the issuing thread (no hand-off to the stream's thread); behind queued work it keeps its turn;
// and with its engine busy it is queued instead of making the issuer wait.
TEST(EmulatedBackend, AShortCopyOnAnIdleStreamLandsAtOnceAndOtherwiseKeepsItsTurn) {
  emulated_backend b;
  const stream s = b.create_stream("short");
  device_buffer dev(b, 3 * 4096);
  auto* d = static_cast<unsigned char*>(dev.p);
  const std::vector<unsigned char> src = pattern(4096, 5);
  b.copy_async(d, src.data(), src.size(), copy_kind::host_to_device, s);
  EXPECT_EQ(std::memcmp(d, src.data(), src.size()), 0) << "not landed when the call returned";
  const uvm::detail::gate g = b.enqueue_gate(s);
  b.copy_async(d + 4096, src.data(), src.size(), copy_kind::host_to_device, s);
  const event after = b.record(s);
  EXPECT_FALSE(b.wait(after, 50ms));
  EXPECT_EQ(d[4096], 0) << "a copy behind a closed gate ran ahead of it";
  b.open_gate(g);
  ASSERT_TRUE(b.wait(after, patience));
  EXPECT_EQ(std::memcmp(d + 4096, src.data(), src.size()), 0);

  stalled_source stalled(copy_engine::handoff_bytes);
  if (!stalled.ok()) GTEST_SKIP() << "userfaultfd is not available here";
  const stream big = b.create_stream("big");
  device_buffer large(b, copy_engine::handoff_bytes);
  b.copy_async(large.p, stalled.page(), copy_engine::handoff_bytes, copy_kind::host_to_device, big);
  ASSERT_TRUE(stalled.wait_fault()) << "the large copy never started";
  const stream idle = b.create_stream("idle");
  b.copy_async(d + 2 * 4096, src.data(), src.size(), copy_kind::host_to_device, idle);  // returns
  const event e_small = b.record(idle);
  EXPECT_FALSE(b.query(e_small)) << "a short copy overtook the busy engine's copy";
  stalled.supply(0x21);
  ASSERT_TRUE(b.wait(e_small, patience));
  EXPECT_EQ(std::memcmp(d + 2 * 4096, src.data(), src.size()), 0);
}

// The thread of a stream whose thread name starts with `comm` (names are cut to 15 characters).
pid_t thread_named(const std::string& comm) {
  for (int tries = 0; tries < 1000; ++tries) {  // the thread names itself when it starts
    for (const auto& t : std::filesystem::directory_iterator("/proc/self/task")) {
      std::ifstream in(t.path() / "comm");
      std::string name;
      if (std::getline(in, name) && name == comm.substr(0, 15)) {
        return static_cast<pid_t>(std::stoi(t.path().filename().string()));
      }
    }
    std::this_thread::yield();
  }
  return -1;
}

// Field `key` of /proc/self/task/<tid>/status.
std::string task_status(pid_t tid, const std::string& key) {
  std::ifstream in("/proc/self/task/" + std::to_string(tid) + "/status");
  for (std::string line; std::getline(in, line);) {
    if (line.rfind(key + ":", 0) == 0) {
      const std::size_t v = line.find_first_not_of(" \t", key.size() + 1);
      return v == std::string::npos ? "" : line.substr(v);
    }
  }
  return "";
}

// Short copies that land on the issuing thread leave the stream's own thread asleep: nothing
// was queued for it (each copy woke it before, for nothing: a futex call and two context
// switches per copy on the fault path).
TEST(EmulatedBackend, CopiesThatLandOnTheIssuingThreadLeaveTheStreamsThreadAsleep) {
  emulated_backend b;
  const stream s = b.create_stream("quiet");
  const pid_t tid = thread_named("uvm-stream-quiet");
  ASSERT_GT(tid, 0) << "no thread named uvm-stream-quiet";
  const auto asleep = [&] {  // waiting for work, as the thread is between operations
    const auto deadline = std::chrono::steady_clock::now() + patience;
    while (task_status(tid, "State").rfind('S', 0) != 0) {
      if (std::chrono::steady_clock::now() > deadline) return false;
      std::this_thread::yield();
    }
    return true;
  };
  ASSERT_TRUE(asleep()) << "the stream's thread never slept";
  const auto switches = [&] { return std::stoull(task_status(tid, "voluntary_ctxt_switches")); };
  const unsigned long long before = switches();
  device_buffer dev(b, 4096);
  const std::vector<unsigned char> src = pattern(4096, 9);
  constexpr int copies = 200;
  for (int i = 0; i < copies; ++i) {
    b.copy_async(dev.p, src.data(), src.size(), copy_kind::host_to_device, s);
    ASSERT_TRUE(asleep());  // copies on the fault path come apart, each to a sleeping thread
  }
  EXPECT_EQ(std::memcmp(dev.p, src.data(), src.size()), 0);
  EXPECT_LT(switches() - before, 10u) << "the stream's thread was woken by copies it never ran";
  // Work queued for it still wakes it.
  const uvm::detail::gate g = b.enqueue_gate(s);
  const event e = b.record(s);
  b.open_gate(g);
  EXPECT_TRUE(b.wait(e, patience));
}

TEST(EmulatedBackend, EventsCompleteAfterEarlierWork) {
  emulated_backend b;
  const stream s = b.create_stream("events");
  const event idle = b.record(s);
  EXPECT_TRUE(b.wait(idle, patience)) << "an event on an idle stream completes promptly";
  EXPECT_TRUE(b.query(idle));

  gate release;
  std::atomic<bool> released{false};
  b.launch(
      1, [&](std::size_t, std::size_t) { released = release.wait_open(); }, s);
  const event e = b.record(s);
  EXPECT_FALSE(b.query(e));
  const std::uint64_t t0 = now_ns();
  EXPECT_FALSE(b.wait(e, 20ms));
  EXPECT_GE(now_ns() - t0, 20'000'000u) << "wait returned before its timeout";
  EXPECT_FALSE(b.wait(e, 0ns));
  EXPECT_FALSE(b.wait(e, -1s));
  EXPECT_FALSE(b.query(e));
  release.open();
  EXPECT_TRUE(b.wait(e, patience));
  EXPECT_TRUE(b.query(e));
  EXPECT_TRUE(b.wait(e, 0ns));
  EXPECT_TRUE(released);
  EXPECT_TRUE(b.wait(b.record(s), std::chrono::nanoseconds::max()));  // "forever" is fine
  EXPECT_FALSE(b.query(nullptr));
}

TEST(EmulatedBackend, AHostGateHoldsTheStreamsLaterWorkUntilOpened) {
  emulated_backend b;
  const stream s = b.create_stream("gated");
  const stream other = b.create_stream("other");
  const uvm::detail::gate g = b.enqueue_gate(s);
  std::uint32_t src = 7, dst = 0;
  b.copy_async(&dst, &src, 4, copy_kind::host_to_device, s);
  const event after = b.record(s);
  EXPECT_FALSE(b.wait(after, 50ms)) << "work behind a closed gate ran";
  EXPECT_TRUE(b.wait(b.record(other), patience)) << "another stream is not held";
  std::atomic<bool> ran{false};
  b.launch(
      1, [&](std::size_t, std::size_t) { ran = true; }, other);
  EXPECT_TRUE(b.wait(b.record(other), patience)) << "a gate holds no kernel worker";
  EXPECT_TRUE(ran);
  b.open_gate(g);
  EXPECT_TRUE(b.wait(after, patience));
  EXPECT_EQ(dst, 7u);
  b.open_gate(g);  // opening twice is harmless
}

TEST(EmulatedBackend, AnEventRecordedOnAnIdleStreamIsCompleteAtOnce) {
  // What depends on it (a stream attachment, a cross-stream wait) must not race the stream's
  // thread when the stream has no work.
  emulated_backend b;
  const stream s = b.create_stream("idle");
  for (int i = 0; i < 1000; ++i) ASSERT_TRUE(b.query(b.record(s))) << "round " << i;
  const uvm::detail::gate g = b.enqueue_gate(s);
  const event behind = b.record(s);
  EXPECT_FALSE(b.query(behind)) << "an event behind a closed gate completed";
  b.open_gate(g);
  EXPECT_TRUE(b.wait(behind, patience));
  EXPECT_TRUE(b.wait(b.record(s), patience));
}

TEST(EmulatedBackend, LaunchCoversEveryIndexExactlyOnce) {
  for (const unsigned workers : {1u, 2u, 7u}) {
    emulated_backend b(workers);
    const stream s = b.create_stream("grid");
    for (const std::size_t n :
         {std::size_t{0}, std::size_t{1}, std::size_t{7}, std::size_t{1000003}}) {
      SCOPED_TRACE(testing::Message() << "workers " << workers << ", n " << n);
      std::vector<std::atomic<std::uint32_t>> hits(n);
      std::atomic<bool> out_of_range{false};
      b.launch(
          n,
          [&](std::size_t begin, std::size_t end) {
            if (begin >= end || end > n) out_of_range = true;
            for (std::size_t i = begin; i < end && i < n; ++i) {
              hits[i].fetch_add(1, std::memory_order_relaxed);
            }
          },
          s);
      ASSERT_TRUE(b.wait(b.record(s), patience));
      EXPECT_FALSE(out_of_range);
      std::size_t wrong = 0;
      for (const auto& h : hits) wrong += h.load() != 1;
      EXPECT_EQ(wrong, 0u);
    }
  }
}

// Slow chunks on every executor: the launch (and the event after it) may only complete once the
// last of them has finished, not when the last chunk has been claimed.
TEST(EmulatedBackend, LaunchCompletesAfterEveryChunk) {
  emulated_backend b(4);
  const stream s = b.create_stream("slow");
  std::atomic<std::size_t> done{0};
  b.launch(
      64,
      [&](std::size_t begin, std::size_t end) {
        std::this_thread::sleep_for(2ms);
        done.fetch_add(end - begin);
      },
      s);
  ASSERT_TRUE(b.wait(b.record(s), patience));
  EXPECT_EQ(done.load(), 64u);
}

TEST(EmulatedBackend, ThrowingKernelIsReportedAndLaterWorkRuns) {
  emulated_backend b;
  const stream s = b.create_stream("throw");
  EXPECT_EQ(b.take_error(), "");
  std::atomic<std::size_t> ran{0};
  b.launch(
      100,
      [&](std::size_t begin, std::size_t end) {
        ran.fetch_add(end - begin);
        if (begin == 0) throw std::runtime_error("boom at zero");
      },
      s);
  device_buffer word(b, sizeof(std::uint32_t));
  auto* w = static_cast<std::uint32_t*>(word.p);
  *w = 0;
  const std::uint32_t answer = 42;
  b.copy_entries_async(w, &answer, 1, s);
  ASSERT_TRUE(b.wait(b.record(s), patience));
  EXPECT_EQ(ran.load(), 100u) << "the other chunks still ran";
  EXPECT_EQ(*w, 42u);
  const std::string err = b.take_error();
  EXPECT_NE(err.find("boom at zero"), std::string::npos) << err;
  EXPECT_EQ(b.take_error(), "") << "taking the error clears it";

  b.launch(
      1, [](std::size_t, std::size_t) { throw 7; }, s);
  b.launch(
      1, [](std::size_t, std::size_t) { throw std::logic_error("second"); }, s);
  ASSERT_TRUE(b.wait(b.record(s), patience));
  const std::string sticky = b.take_error();
  EXPECT_NE(sticky.find("non-standard"), std::string::npos) << sticky;
  EXPECT_NE(sticky.find("1 more"), std::string::npos) << sticky;
}

TEST(EmulatedBackend, ConcurrentEnqueuersKeepTheirOwnOrder) {
  emulated_backend b;
  const stream s = b.create_stream("shared");
  constexpr int threads = 4;
  constexpr int per_thread = 2000;
  std::mutex log_mutex;
  std::vector<std::pair<int, int>> log;
  std::vector<std::thread> enqueuers;
  for (int t = 0; t < threads; ++t) {
    enqueuers.emplace_back([&, t] {
      for (int i = 0; i < per_thread; ++i) {
        b.launch(
            1,
            [&, t, i](std::size_t, std::size_t) {
              const std::lock_guard lock(log_mutex);
              log.emplace_back(t, i);
            },
            s);
      }
    });
  }
  for (auto& th : enqueuers) th.join();
  ASSERT_TRUE(b.wait(b.record(s), 3 * patience));
  ASSERT_EQ(log.size(), std::size_t{threads} * per_thread);
  std::vector<int> next(threads, 0);
  for (const auto& [t, i] : log) {
    ASSERT_EQ(i, next[t]) << "thread " << t;
    ++next[t];
  }
}

TEST(EmulatedBackend, ManyStreamsCopyingConcurrently) {
  emulated_backend b;
  constexpr int threads = 4;
  constexpr int rounds = 50;
  constexpr std::size_t bytes = 64 << 10;
  std::atomic<int> bad{0};
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&, t] {
      const stream s = b.create_stream("many");
      device_buffer dev(b, bytes);
      for (int r = 0; r < rounds; ++r) {
        const auto src = pattern(bytes, static_cast<unsigned>(t * rounds + r));
        std::vector<unsigned char> back(bytes);
        b.copy_async(dev.p, src.data(), bytes, copy_kind::host_to_device, s);
        b.copy_async(back.data(), dev.p, bytes, copy_kind::device_to_host, s);
        if (!b.wait(b.record(s), patience) || back != src) bad.fetch_add(1);
      }
    });
  }
  for (auto& w : workers) w.join();
  EXPECT_EQ(bad.load(), 0);
  EXPECT_EQ(b.bytes_host_to_device(), std::uint64_t{threads} * rounds * bytes);
  EXPECT_EQ(b.bytes_device_to_host(), std::uint64_t{threads} * rounds * bytes);
}

TEST(EmulatedBackend, DroppedStreamFinishesItsWork) {
  emulated_backend b;
  stream s = b.create_stream("dropped");
  gate release;
  std::atomic<int> ran{0};
  b.launch(
      1, [&](std::size_t, std::size_t) { (void)release.wait_open(); }, s);
  for (int i = 0; i < 100; ++i)
    b.launch(
        1, [&](std::size_t, std::size_t) { ++ran; }, s);
  const event e = b.record(s);
  s.reset();
  EXPECT_FALSE(b.query(e));
  release.open();
  ASSERT_TRUE(b.wait(e, patience));
  EXPECT_EQ(ran.load(), 100);
  const stream again = b.create_stream("again");  // reaps the dropped stream's thread
  EXPECT_TRUE(b.wait(b.record(again), patience));
}

TEST(EmulatedBackend, DestructionFinishesQueuedWork) {
  std::atomic<int> ran{0};
  // One host buffer per stream: the streams run concurrently, so sharing one would be a race.
  std::vector<std::vector<unsigned char>> host(2, std::vector<unsigned char>(1 << 20, 1));
  event last;
  stream kept;
  {
    emulated_backend b;
    kept = b.create_stream("kept");
    stream dropped = b.create_stream("dropped");
    for (int k = 0; k < 2; ++k) {
      const stream& s = k == 0 ? kept : dropped;
      std::vector<unsigned char>& h = host[k];
      void* dev = b.allocate_device(h.size());  // freed by the destructor
      // A slow first operation, so the rest is still queued when the destructor starts.
      b.launch(
          1, [](std::size_t, std::size_t) { std::this_thread::sleep_for(20ms); }, s);
      for (int i = 0; i < 50; ++i) {
        b.copy_async(dev, h.data(), h.size(), copy_kind::host_to_device, s);
        b.launch(
            64, [&](std::size_t begin, std::size_t end) { ran += int(end - begin); }, s);
        b.copy_async(h.data(), dev, h.size(), copy_kind::device_to_host, s);
      }
    }
    last = b.record(kept);
    dropped.reset();
  }
  EXPECT_EQ(ran.load(), 2 * 50 * 64);
  // The event object outlives the backend (its completion was all that was left to do).
  EXPECT_NE(last, nullptr);
  kept.reset();  // closing a stream of a destroyed backend is harmless
}

// --- Several devices -------------------------------------------------------------------------

TEST(EmulatedDevices, EachDeviceRunsKernelsOnWorkersOfItsOwn) {
  emulated_backend b(1, 2);  // one worker per device
  ASSERT_EQ(b.device_count(), 2u);
  const stream s0 = b.create_stream("k0", 0);
  const stream s1 = b.create_stream("k1", 1);
  EXPECT_EQ(b.device_of(s0), 0u);
  EXPECT_EQ(b.device_of(s1), 1u);
  std::atomic<bool> release{false};
  std::atomic<bool> held{false};
  b.launch(
      1,
      [&](std::size_t, std::size_t) {
        held = true;
        const auto end = std::chrono::steady_clock::now() + patience;
        while (!release && std::chrono::steady_clock::now() < end) std::this_thread::yield();
      },
      s0);
  while (!held) std::this_thread::yield();  // device 0's only worker is taken
  std::atomic<bool> ran{false};
  b.launch(
      1, [&](std::size_t, std::size_t) { ran = true; }, s1);
  EXPECT_TRUE(b.wait(b.record(s1), patience)) << "device 1 waited for device 0's kernel";
  EXPECT_TRUE(ran.load());
  EXPECT_FALSE(b.query(b.record(s0))) << "device 0's kernel ended before it was released";
  release = true;
  ASSERT_TRUE(b.wait(b.record(s0), patience));
  EXPECT_EQ(b.take_error(), "");
}

TEST(EmulatedDevices, KernelCodeKnowsWhichDeviceItRunsOn) {
  emulated_backend b(2, 3);
  std::array<std::atomic<int>, 3> mismatches{};
  std::array<std::atomic<int>, 3> ran{};
  for (device_id d = 0; d < 3; ++d) {
    const stream s = b.create_stream("k", d);
    b.launch(
        64,
        [&, d](std::size_t begin, std::size_t end) {
          if (current_device() != d) mismatches[d].fetch_add(1);
          ran[d].fetch_add(static_cast<int>(end - begin));
        },
        s);
    ASSERT_TRUE(b.wait(b.record(s), patience));
  }
  for (device_id d = 0; d < 3; ++d) {
    EXPECT_EQ(ran[d].load(), 64) << d;
    EXPECT_EQ(mismatches[d].load(), 0) << "kernel chunks of device " << d;
  }
  EXPECT_EQ(current_device(), 0u) << "a host thread is no device's worker";
}

TEST(EmulatedDevices, MemoryCallsOnOneDeviceWaitForKernelsOnEveryDevice) {
  emulated_backend b(1, 2);
  expect_memory_calls_wait_for(b, b.create_stream("k1", 1), 0);
}

TEST(EmulatedDevices, APeerCopyMovesBytesBetweenDevicesAndIsCountedApart) {
  emulated_backend b(1, 3);
  EXPECT_TRUE(b.can_access_peer(0, 2));
  EXPECT_TRUE(b.can_access_peer(1, 1));
  EXPECT_FALSE(b.can_access_peer(0, 3)) << "no device 3";
  EXPECT_FALSE(b.can_access_peer(3, 3)) << "no device 3";
  constexpr std::size_t bytes = 3 * 4096 + 12;
  auto* on0 = static_cast<std::byte*>(b.allocate_device(bytes, 0));
  auto* on2 = static_cast<std::byte*>(b.allocate_device(bytes, 2));
  std::vector<std::byte> src(bytes);
  std::vector<std::byte> back(bytes);
  for (std::size_t i = 0; i < bytes; ++i) src[i] = std::byte(i * 13 + 5);
  const stream s0 = b.create_stream("c0", 0);
  const stream s2 = b.create_stream("c2", 2);
  b.copy_async(on0, src.data(), bytes, copy_kind::host_to_device, s0);
  ASSERT_TRUE(b.wait(b.record(s0), patience));
  b.copy_async(on2, on0, bytes, copy_kind::device_to_device, s2);
  b.copy_async(back.data(), on2, bytes, copy_kind::device_to_host, s2);
  ASSERT_TRUE(b.wait(b.record(s2), patience));
  EXPECT_EQ(std::memcmp(back.data(), src.data(), bytes), 0);
  EXPECT_EQ(b.bytes_device_to_device(), bytes);
  EXPECT_EQ(b.bytes_host_to_device(), bytes);
  EXPECT_EQ(b.bytes_device_to_host(), bytes);
  b.free_device(on0);
  b.free_device(on2);
}

TEST(EmulatedDevices, ADeviceOutsideTheBackendIsRefusedByName) {
  emulated_backend b(1, 2);
  EXPECT_THROW((void)b.create_stream("x", 2), uvm::invalid_argument);
  EXPECT_THROW((void)b.allocate_device(4096, 2), uvm::invalid_argument);
  EXPECT_THROW((void)b.default_budget(7), uvm::invalid_argument);
  EXPECT_GT(b.default_budget(1), 0u);
  EXPECT_THROW({ emulated_backend none(1, 0); }, uvm::invalid_argument);
  EXPECT_THROW({ emulated_backend many(1, emulated_backend::max_devices + 1); },
               uvm::invalid_argument);
  try {
    (void)b.create_stream("x", 5);
    ADD_FAILURE() << "device 5 was accepted";
  } catch (const uvm::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("device 5"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace uvm::detail
