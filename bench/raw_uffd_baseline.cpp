#include "bench/raw_uffd_baseline.hpp"

#include "bench/timing.hpp"

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <system_error>
#include <thread>
#include <vector>

#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace bench {

namespace {

#ifndef USERFAULTFD_IOC_NEW
#define USERFAULTFD_IOC_NEW _IO(0xAA, 0x00)
#endif

[[noreturn]] void throw_errno(const char* what) {
  throw std::system_error(errno, std::generic_category(), what);
}

// A userfaultfd with MINOR faults on shmem, as uvm opens its own (kernel faults included).
int open_minor_uffd() {
  int fd = static_cast<int>(syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK));
  if (fd < 0) {
    const int dev = open("/dev/userfaultfd", O_RDWR | O_CLOEXEC);
    if (dev < 0) return -1;
    fd = ioctl(dev, USERFAULTFD_IOC_NEW, O_CLOEXEC | O_NONBLOCK);
    close(dev);
    if (fd < 0) return -1;
  }
  uffdio_api api{};
  api.api = UFFD_API;
  api.features = UFFD_FEATURE_MINOR_SHMEM | UFFD_FEATURE_MISSING_SHMEM;
  if (ioctl(fd, UFFDIO_API, &api) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

}  // namespace

std::string raw_uffd_unavailable() {
  const int fd = open_minor_uffd();
  if (fd < 0) return "no userfaultfd with MINOR faults on shmem in this process";
  close(fd);
  return {};
}

void measure_raw_uffd_faults(raw_uffd_kind kind, std::size_t page_size, std::size_t pages,
                             unsigned handlers, std::vector<std::uint64_t>& out) {
  const bool minor = kind == raw_uffd_kind::minor;
  const std::size_t bytes = page_size * pages;
  const int memfd = memfd_create("uvm-bench-raw-uffd", MFD_CLOEXEC);
  if (memfd < 0) throw_errno("memfd_create");
  if (ftruncate(memfd, static_cast<off_t>(bytes)) != 0) throw_errno("ftruncate");
  // The data view populates the page cache; the timed view maps nothing yet.
  void* data = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, memfd, 0);
  void* view = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, memfd, 0);
  close(memfd);
  if (data == MAP_FAILED || view == MAP_FAILED) throw_errno("mmap of the memfd");
  if (minor && madvise(data, bytes, MADV_POPULATE_WRITE) != 0) {
    throw_errno("MADV_POPULATE_WRITE");
  }
  const int uffd = open_minor_uffd();
  if (uffd < 0) throw_errno("userfaultfd");
  uffdio_register reg{};
  reg.range = {reinterpret_cast<std::uintptr_t>(view), bytes};
  reg.mode = minor ? UFFDIO_REGISTER_MODE_MINOR : UFFDIO_REGISTER_MODE_MISSING;
  if (ioctl(uffd, UFFDIO_REGISTER, &reg) != 0) throw_errno("UFFDIO_REGISTER");
  const int stop = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  std::atomic<std::size_t> faults{0};
  std::atomic<std::size_t> failures{0};

  // The whole handler: read one fault, map its page, which wakes the faulting thread.
  const auto view_base = reinterpret_cast<std::uintptr_t>(view);
  auto handle = [&] {
    for (;;) {
      pollfd fds[2] = {{uffd, POLLIN, 0}, {stop, POLLIN, 0}};
      if (poll(fds, 2, -1) < 0) continue;
      if ((fds[1].revents & POLLIN) != 0) return;
      uffd_msg m{};
      if (read(uffd, &m, sizeof m) != sizeof m || m.event != UFFD_EVENT_PAGEFAULT)
        continue;  // taken
      // The page within the view (which mmap placed at an OS-page boundary only).
      const std::uintptr_t at = m.arg.pagefault.address - view_base;
      uffdio_range range{view_base + at / page_size * page_size, page_size};
      int r;
      if (minor) {
        uffdio_continue c{};
        c.range = range;
        while ((r = ioctl(uffd, UFFDIO_CONTINUE, &c)) != 0 && errno == EAGAIN && c.mapped <= 0) {
        }
      } else {
        uffdio_zeropage z{};
        z.range = range;
        while ((r = ioctl(uffd, UFFDIO_ZEROPAGE, &z)) != 0 && errno == EAGAIN && z.zeropage <= 0) {
        }
      }
      if (r == 0) {
        faults.fetch_add(1, std::memory_order_relaxed);
      } else {  // never leave the faulting thread asleep, nor let it fault forever
        if (failures.fetch_add(1) == 0) {
          std::fprintf(stderr, "uvm-bench: raw userfaultfd baseline: resolving failed: %s\n",
                       std::strerror(errno));
        }
        range = {m.arg.pagefault.address & ~std::uintptr_t{4095}, 4096};
        if (minor) {
          uffdio_continue c{};
          c.range = range;
          (void)ioctl(uffd, UFFDIO_CONTINUE, &c);
        } else {
          uffdio_zeropage z{};
          z.range = range;
          (void)ioctl(uffd, UFFDIO_ZEROPAGE, &z);
        }
        ioctl(uffd, UFFDIO_WAKE, &range);
      }
    }
  };
  std::vector<std::thread> pool;
  for (unsigned i = 0; i < handlers; ++i) pool.emplace_back(handle);
  auto* base = static_cast<unsigned char*>(view);
  time_page_writes(base, page_size, pages, out);
  const std::uint64_t one = 1;
  (void)!write(stop, &one, sizeof one);
  for (auto& t : pool) t.join();
  close(stop);
  close(uffd);
  munmap(view, bytes);
  munmap(data, bytes);
  if (faults.load() != pages) {
    std::fprintf(stderr,
                 "uvm-bench: warning: raw userfaultfd baseline took %zu faults for %zu pages\n",
                 faults.load(), pages);
  }
}

}  // namespace bench
