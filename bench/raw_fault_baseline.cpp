#include "bench/raw_fault_baseline.hpp"

#include "bench/timing.hpp"

#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <system_error>

#include <sys/mman.h>
#include <unistd.h>

namespace bench {

namespace {

// The handler can only reach its region through globals.
std::atomic<std::uintptr_t> g_begin{0};
std::atomic<std::uintptr_t> g_end{0};
std::atomic<std::uintptr_t> g_page_mask{0};
std::atomic<std::size_t> g_faults{0};
struct sigaction g_previous {};

// The whole baseline: round down, mprotect, return. Anything else it cannot have caused, so it
// puts the previous action back and lets the access fault again under it.
void on_sigsegv(int, siginfo_t* info, void*) {
  const auto addr = reinterpret_cast<std::uintptr_t>(info->si_addr);
  if (addr >= g_begin.load(std::memory_order_relaxed) &&
      addr < g_end.load(std::memory_order_relaxed)) {
    const std::uintptr_t mask = g_page_mask.load(std::memory_order_relaxed);
    const int saved_errno = errno;
    if (mprotect(reinterpret_cast<void*>(addr & mask), ~mask + 1, PROT_READ | PROT_WRITE) == 0) {
      g_faults.fetch_add(1, std::memory_order_relaxed);
      errno = saved_errno;
      return;
    }
    errno = saved_errno;
  }
  sigaction(SIGSEGV, &g_previous, nullptr);
}

[[noreturn]] void throw_errno(const char* what) {
  throw std::system_error(errno, std::generic_category(), what);
}

// A memfd mapped MAP_SHARED at a page_size-aligned address, as uvm maps its ranges.
class shared_region {
 public:
  shared_region(std::size_t bytes, std::size_t alignment, int prot) : bytes_(bytes) {
    fd_ = memfd_create("uvm-bench-raw", MFD_CLOEXEC);
    if (fd_ < 0) throw_errno("memfd_create");
    if (ftruncate(fd_, static_cast<off_t>(bytes)) != 0) fail("ftruncate");
    // Reserve the slack for alignment, then map the memfd over the aligned part of it.
    const std::size_t reserve = bytes + alignment;
    void* r = mmap(nullptr, reserve, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (r == MAP_FAILED) fail("mmap reservation");
    const auto start = reinterpret_cast<std::uintptr_t>(r);
    const std::uintptr_t aligned = (start + alignment - 1) & ~(std::uintptr_t{alignment} - 1);
    void* p = mmap(reinterpret_cast<void*>(aligned), bytes, prot, MAP_SHARED | MAP_FIXED, fd_, 0);
    if (p == MAP_FAILED) {
      munmap(r, reserve);
      fail("mmap of the memfd");
    }
    if (aligned > start) munmap(r, aligned - start);
    if (start + reserve > aligned + bytes) {
      munmap(reinterpret_cast<void*>(aligned + bytes), start + reserve - (aligned + bytes));
    }
    data_ = static_cast<unsigned char*>(p);
  }
  ~shared_region() {
    if (data_ != nullptr) munmap(data_, bytes_);
    close(fd_);
  }
  shared_region(const shared_region&) = delete;
  shared_region& operator=(const shared_region&) = delete;

  [[nodiscard]] unsigned char* data() const noexcept { return data_; }

 private:
  [[noreturn]] void fail(const char* what) {
    const int err = errno;
    close(fd_);
    errno = err;
    throw_errno(what);
  }

  std::size_t bytes_;
  int fd_ = -1;
  unsigned char* data_ = nullptr;
};

// Installs on_sigsegv for its lifetime; the previous action comes back on destruction.
class handler_scope {
 public:
  handler_scope(const shared_region& region, std::size_t bytes, std::size_t page_size) {
    g_begin.store(reinterpret_cast<std::uintptr_t>(region.data()));
    g_end.store(reinterpret_cast<std::uintptr_t>(region.data()) + bytes);
    g_page_mask.store(~(std::uintptr_t{page_size} - 1));
    g_faults.store(0);
    struct sigaction sa {};
    sa.sa_sigaction = on_sigsegv;
    sa.sa_flags = SA_SIGINFO;
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGSEGV, &sa, &g_previous) != 0) throw_errno("sigaction(SIGSEGV)");
  }
  ~handler_scope() {
    sigaction(SIGSEGV, &g_previous, nullptr);
    g_begin.store(0);
    g_end.store(0);
  }
  handler_scope(const handler_scope&) = delete;
  handler_scope& operator=(const handler_scope&) = delete;
};

}  // namespace

void measure_raw_faults(raw_fault_kind kind, std::size_t page_size, std::size_t pages,
                        std::vector<std::uint64_t>& out) {
  const std::size_t bytes = page_size * pages;
  const bool upgrade = kind == raw_fault_kind::upgrade;
  shared_region region(bytes, page_size, upgrade ? PROT_READ : PROT_NONE);
  unsigned char* const base = region.data();
  if (upgrade) {
    // Populate read-only, as uvm's read-mostly first touch leaves a page before its upgrade.
    for (std::size_t i = 0; i < pages; ++i) {
      (void)*reinterpret_cast<volatile unsigned char*>(base + i * page_size);
    }
  }
  std::size_t faults = 0;
  {
    handler_scope scope(region, bytes, page_size);
    time_page_writes(base, page_size, pages, out);
    faults = g_faults.load();
  }
  if (faults != pages) {
    std::fprintf(stderr, "uvm-bench: warning: raw %s baseline took %zu faults for %zu pages\n",
                 upgrade ? "upgrade" : "first-touch", faults, pages);
  }
}

}  // namespace bench
