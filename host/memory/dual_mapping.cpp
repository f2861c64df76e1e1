#include "host/memory/dual_mapping.hpp"

#include "host/common/check.hpp"

#include <cstdint>

#include <sys/mman.h>
#include <unistd.h>

namespace uvm::detail {

namespace {

// Closes the descriptor and unmaps whatever a half-built mapping holds.
struct cleanup {
  int fd = -1;
  void* a = MAP_FAILED;
  std::size_t a_len = 0;
  ~cleanup() {
    if (a != MAP_FAILED) munmap(a, a_len);
    if (fd >= 0) close(fd);
  }
};

}  // namespace

dual_mapping::dual_mapping(std::size_t bytes, std::size_t alignment, bool app_accessible)
    : size_(bytes) {
  cleanup c;
  c.fd = memfd_create("uvm-range", MFD_CLOEXEC);
  if (c.fd < 0) throw_system("memfd_create", errno);
  if (ftruncate(c.fd, static_cast<off_t>(bytes)) != 0) {
    throw_system(fmt::format("ftruncate of a {}-byte memfd", bytes), errno);
  }

  // Reserve bytes + alignment of address space, then place the app view at its aligned start.
  const std::size_t reserve = bytes + alignment;
  c.a = mmap(nullptr, reserve, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (c.a == MAP_FAILED)
    throw_system(fmt::format("mmap of {} bytes of address space", reserve), errno);
  c.a_len = reserve;
  const auto start = reinterpret_cast<std::uintptr_t>(c.a);
  const std::uintptr_t aligned = (start + alignment - 1) & ~(std::uintptr_t{alignment} - 1);
  void* app =
      mmap(reinterpret_cast<void*>(aligned), bytes,
           app_accessible ? PROT_READ | PROT_WRITE : PROT_NONE, MAP_SHARED | MAP_FIXED, c.fd, 0);
  if (app == MAP_FAILED) throw_system("mmap of the app view", errno);
  if (aligned > start) munmap(c.a, aligned - start);
  const std::uintptr_t tail = aligned + bytes;
  if (start + reserve > tail) munmap(reinterpret_cast<void*>(tail), start + reserve - tail);
  c.a = MAP_FAILED;  // the reservation is now the app view alone
  app_ = static_cast<std::byte*>(app);

  void* rt = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, c.fd, 0);
  if (rt == MAP_FAILED) {
    const int err = errno;
    munmap(app_, bytes);
    throw_system("mmap of the runtime view", err);
  }
  runtime_ = static_cast<std::byte*>(rt);
  // A child of fork() gets neither view: it could otherwise write into the parent's pages
  // through the shared memfd. It sees the addresses unmapped, as stray pointers.
  if (madvise(app_, bytes, MADV_DONTFORK) != 0 || madvise(runtime_, bytes, MADV_DONTFORK) != 0) {
    const int err = errno;
    munmap(app_, bytes);
    munmap(runtime_, bytes);
    throw_system("madvise(MADV_DONTFORK) of a range", err);
  }
  // The mappings keep the memory alive; the descriptor is closed here (by `c`), so a range
  // holds no file descriptor.
}

dual_mapping::~dual_mapping() {
  munmap(app_, size_);
  if (runtime_owned_) munmap(runtime_, size_);
}

}  // namespace uvm::detail
