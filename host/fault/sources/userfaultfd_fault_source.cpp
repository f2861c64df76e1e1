#include "host/fault/sources/userfaultfd_fault_source.hpp"

#include "host/coherence/managed_range.hpp"
#include "host/common/check.hpp"
#include "host/common/leak.hpp"
#include "host/fault/service/fault_request.hpp"
#include "host/fault/sources/range_registry.hpp"
#include "host/fault/sources/uffd_abi.hpp"
#include "host/telemetry/log.hpp"

#include <uvm/error.hpp>

#include <algorithm>
#include <array>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <fstream>
#include <mutex>
#include <utility>

#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace uvm::detail {

namespace {

constexpr std::uint64_t needed_features = UFFD_FEATURE_MISSING_SHMEM | UFFD_FEATURE_MINOR_SHMEM |
                                          UFFD_FEATURE_WP_HUGETLBFS_SHMEM |
                                          UFFD_FEATURE_PAGEFAULT_FLAG_WP | UFFD_FEATURE_THREAD_ID |
                                          UFFD_FEATURE_WP_UNPOPULATED;  // 6.4: CONTINUE_MODE_WP
constexpr std::uint64_t register_modes =
    UFFDIO_REGISTER_MODE_MISSING | UFFDIO_REGISTER_MODE_MINOR | UFFDIO_REGISTER_MODE_WP;
constexpr std::uint64_t needed_ioctls =
    (std::uint64_t{1} << _UFFDIO_CONTINUE) | (std::uint64_t{1} << _UFFDIO_WRITEPROTECT) |
    (std::uint64_t{1} << _UFFDIO_ZEROPAGE) | (std::uint64_t{1} << _UFFDIO_WAKE);

std::mutex g_mutex;
std::weak_ptr<userfaultfd_fault_source> g_instance;

// The fault the handler thread is serving: protect() zero-fills its page if it is a hole.
// Nothing protect() does wakes the faulting thread: the handler does, after the transition is
// published, so the thread never runs on (or reads the state of) a page still in transition.
struct serving {
  const std::byte* addr = nullptr;
  bool hole = false;  // a MISSING fault: the touched OS page had no memfd page
};
thread_local serving t_fault;

// How much of a hole around the touched page one fault zero-fills.
constexpr std::size_t fill_window = std::size_t{64} << 10;

// The fill window around byte `at` of a view, clipped to [lo, hi).
std::pair<std::size_t, std::size_t> window_around(std::size_t at, std::size_t lo,
                                                  std::size_t hi) noexcept {
  const std::size_t w = at / fill_window * fill_window;
  return {std::max(lo, w), std::min(hi, w + fill_window)};
}

bool touched_in(const std::byte* p, std::size_t bytes) noexcept {
  return t_fault.addr >= p && t_fault.addr < p + bytes;
}

std::string read_sysctl(const char* path) {
  std::ifstream in(path);
  std::string v;
  if (!(in >> v)) return "unreadable";
  return v;
}

// A userfaultfd that may also catch faults taken in the kernel (system calls): through the
// system call, which needs CAP_SYS_PTRACE unless vm.unprivileged_userfaultfd is 1, or through
// /dev/userfaultfd, which needs access to the device node.
int open_uffd(std::string& why) {
  const int fd = static_cast<int>(syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK));
  if (fd >= 0) return fd;
  const int sys_err = errno;
  const int dev = open("/dev/userfaultfd", O_RDWR | O_CLOEXEC);
  const int dev_err = errno;
  if (dev >= 0) {
    const int f = ioctl(dev, USERFAULTFD_IOC_NEW, O_CLOEXEC | O_NONBLOCK);
    const int e = errno;
    close(dev);
    if (f >= 0) return f;
    why = fmt::format(
        "userfaultfd() failed ({}) and /dev/userfaultfd's USERFAULTFD_IOC_NEW failed "
        "({})",
        strerrorname_np(sys_err), strerrorname_np(e));
    return -1;
  }
  if (sys_err == ENOSYS) {
    why = "the kernel has no userfaultfd (ENOSYS)";
  } else {
    why = fmt::format(
        "no permission: userfaultfd() failed ({}; vm.unprivileged_userfaultfd = {} and the "
        "process lacks CAP_SYS_PTRACE) and /dev/userfaultfd could not be opened ({})",
        strerrorname_np(sys_err), read_sysctl("/proc/sys/vm/unprivileged_userfaultfd"),
        strerrorname_np(dev_err));
  }
  return -1;
}

std::string missing_features(std::uint64_t offered) {
  static constexpr std::array<std::pair<std::uint64_t, const char*>, 6> names{{
      {UFFD_FEATURE_MISSING_SHMEM, "MISSING_SHMEM"},
      {UFFD_FEATURE_MINOR_SHMEM, "MINOR_SHMEM"},
      {UFFD_FEATURE_WP_HUGETLBFS_SHMEM, "WP_HUGETLBFS_SHMEM"},
      {UFFD_FEATURE_PAGEFAULT_FLAG_WP, "PAGEFAULT_FLAG_WP"},
      {UFFD_FEATURE_THREAD_ID, "THREAD_ID"},
      {UFFD_FEATURE_WP_UNPOPULATED, "WP_UNPOPULATED (Linux 6.4)"},
  }};
  std::string out;
  for (const auto& [bit, name] : names) {
    if ((offered & bit) != 0) continue;
    if (!out.empty()) out += ", ";
    out += name;
  }
  return out;
}

// Opens a descriptor with the features the mechanism needs, or says why it cannot.
int open_with_features(std::string& why) {
  // Which features the kernel offers: UFFDIO_API with none requested reports them, once per
  // descriptor, so ask on a throwaway one.
  const int probe = open_uffd(why);
  if (probe < 0) return -1;
  uffdio_api api{};
  api.api = UFFD_API;
  const int r = ioctl(probe, UFFDIO_API, &api);
  const int err = errno;
  close(probe);
  if (r != 0) {
    why = fmt::format("UFFDIO_API failed ({})", strerrorname_np(err));
    return -1;
  }
  if ((api.features & needed_features) != needed_features) {
    why = fmt::format("the kernel lacks userfaultfd features: {}", missing_features(api.features));
    return -1;
  }
  const int fd = open_uffd(why);
  if (fd < 0) return -1;
  uffdio_api want{};
  want.api = UFFD_API;
  want.features = needed_features;
  if (ioctl(fd, UFFDIO_API, &want) != 0) {
    why = fmt::format("UFFDIO_API with features {:#x} failed ({})", needed_features,
                      strerrorname_np(errno));
    close(fd);
    return -1;
  }
  return fd;
}

// Registers [p, p + bytes) in every mode the mechanism uses.
// @return 0, or an errno; `ioctls` says which range ioctls the kernel allows there.
int register_range(int uffd, void* p, std::size_t bytes, std::uint64_t& ioctls) {
  uffdio_register reg{};
  reg.range.start = reinterpret_cast<std::uintptr_t>(p);
  reg.range.len = bytes;
  reg.mode = register_modes;
  if (ioctl(uffd, UFFDIO_REGISTER, &reg) != 0) return errno;
  ioctls = reg.ioctls;
  return 0;
}

// Whether a shmem mapping can be registered with the ioctls the mechanism needs.
std::string probe_registration(int uffd) {
  const long os_page = sysconf(_SC_PAGESIZE);
  const int memfd = memfd_create("uvm-uffd-probe", MFD_CLOEXEC);
  if (memfd < 0) return fmt::format("memfd_create failed ({})", strerrorname_np(errno));
  std::string why;
  void* p = MAP_FAILED;
  if (ftruncate(memfd, os_page) == 0) {
    p = mmap(nullptr, static_cast<std::size_t>(os_page), PROT_READ | PROT_WRITE, MAP_SHARED, memfd,
             0);
  }
  close(memfd);
  if (p == MAP_FAILED)
    return fmt::format("mapping a probe memfd failed ({})", strerrorname_np(errno));
  std::uint64_t ioctls = 0;
  if (const int e = register_range(uffd, p, static_cast<std::size_t>(os_page), ioctls); e != 0) {
    why = fmt::format("registering a shmem mapping in MISSING, MINOR and WP modes failed ({})",
                      strerrorname_np(e));
  } else if ((ioctls & needed_ioctls) != needed_ioctls) {
    why = fmt::format(
        "a registered shmem mapping lacks UFFDIO_CONTINUE, _WRITEPROTECT, _ZEROPAGE "
        "or _WAKE (offered ioctls {:#x})",
        ioctls);
  }
  munmap(p, static_cast<std::size_t>(os_page));
  return why;
}

std::size_t os_page_bytes() noexcept {
  static const auto bytes = static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
  return bytes;
}

// Retries an ioctl that the kernel refuses with EAGAIN while the address space is changing
// (a concurrent fork or mremap). Bounded: the change is short.
template <class Arg>
int uffd_ioctl(int fd, unsigned long request, Arg& arg) noexcept {
  for (int attempt = 0;; ++attempt) {
    if (ioctl(fd, request, &arg) == 0) return 0;
    if (errno != EAGAIN || attempt == 1000) return errno;
    sched_yield();
  }
}

}  // namespace

std::string userfaultfd_fault_source::unavailable_reason() {
  std::string why;
  const int fd = open_with_features(why);
  if (fd < 0) return why;
  why = probe_registration(fd);
  close(fd);
  return why;
}

std::shared_ptr<userfaultfd_fault_source> userfaultfd_fault_source::acquire() {
  std::lock_guard lock(g_mutex);
  if (auto existing = g_instance.lock(); existing && existing->owner_ == getpid()) return existing;
  std::string why;
  const int fd = open_with_features(why);
  if (fd >= 0) why = probe_registration(fd);
  if (!why.empty()) {
    if (fd >= 0) close(fd);
    throw error(fmt::format("uvm: the userfaultfd fault mechanism is unavailable: {}", why));
  }
  const int stop = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (stop < 0) {
    const int err = errno;
    close(fd);
    throw_system("eventfd", err);
  }
  std::shared_ptr<userfaultfd_fault_source> s(new userfaultfd_fault_source(fd, stop));
  g_instance = s;
  return s;
}

userfaultfd_fault_source::userfaultfd_fault_source(int uffd, int stop_fd)
    : uffd_(uffd), stop_fd_(stop_fd), owner_(getpid()) {
  // The handlers take no signal meant for the application's threads.
  sigset_t all;
  sigset_t old;
  sigfillset(&all);
  pthread_sigmask(SIG_BLOCK, &all, &old);
  try {
    for (unsigned i = 0; i < handler_threads; ++i) {
      handlers_.emplace_back([this] { handle(); });
      pthread_setname_np(handlers_.back().native_handle(), "uvm-uffd");
    }
  } catch (...) {
    pthread_sigmask(SIG_SETMASK, &old, nullptr);
    const std::uint64_t one = 1;
    (void)!write(stop_fd_, &one, sizeof one);
    for (auto& t : handlers_) t.join();
    close(uffd_);
    close(stop_fd_);
    throw;
  }
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
}

userfaultfd_fault_source::~userfaultfd_fault_source() {
  // The last manager is gone, so no range is registered and no fault can arrive.
  if (owner_ != getpid()) {  // a fork()'s copy: the threads were never the child's
    (void)leak_on_purpose(new std::vector<std::thread>(std::move(handlers_)));
    close(uffd_);
    close(stop_fd_);
    return;
  }
  const std::uint64_t one = 1;
  (void)!write(stop_fd_, &one, sizeof one);
  for (auto& t : handlers_) t.join();
  close(uffd_);
  close(stop_fd_);
}

void userfaultfd_fault_source::do_attach(std::byte* app, std::size_t bytes) {
  std::uint64_t ioctls = 0;
  if (const int e = register_range(uffd_, app, bytes, ioctls); e != 0) {
    throw_system(fmt::format("UFFDIO_REGISTER of a {}-byte app view", bytes), e);
  }
  if ((ioctls & needed_ioctls) != needed_ioctls) {
    throw_system(fmt::format("UFFDIO_REGISTER of a {}-byte app view (ioctls {:#x})", bytes, ioctls),
                 EINVAL);
  }
}

void userfaultfd_fault_source::wake(const void* p, std::size_t bytes) const noexcept {
  uffdio_range r{reinterpret_cast<std::uintptr_t>(p), bytes};
  (void)ioctl(uffd_, UFFDIO_WAKE, &r);
}

int userfaultfd_fault_source::write_protect(std::byte* p, std::size_t bytes,
                                            bool on) const noexcept {
  uffdio_writeprotect wp{};
  wp.range = {reinterpret_cast<std::uintptr_t>(p), bytes};
  wp.mode = on ? UFFDIO_WRITEPROTECT_MODE_WP : UFFDIO_WRITEPROTECT_MODE_DONTWAKE;
  return uffd_ioctl(uffd_, UFFDIO_WRITEPROTECT, wp);
}

int userfaultfd_fault_source::continue_run(std::byte* p, std::size_t bytes, bool read_only,
                                           std::size_t& done) const noexcept {
  // UFFDIO_CONTINUE over memfd pages; pages already mapped are skipped (the caller sets their
  // write protection). Stops at a hole (EFAULT), with `done` the bytes before it.
  done = 0;
  int changing = 0;  // EAGAIN: the address space is changing (fork, mremap); bounded retries
  while (done < bytes) {
    uffdio_continue c{};
    c.range = {reinterpret_cast<std::uintptr_t>(p + done), bytes - done};
    c.mode = UFFDIO_CONTINUE_MODE_DONTWAKE | (read_only ? UFFDIO_CONTINUE_MODE_WP : 0);
    if (ioctl(uffd_, UFFDIO_CONTINUE, &c) == 0) {
      done = bytes;
      return 0;
    }
    const int err = errno;
    if (c.mapped > 0) {  // stopped part-way (at a mapped page, a hole, or EAGAIN): resume there
      done += static_cast<std::size_t>(c.mapped);
    } else if (err == EEXIST) {
      done += os_page_bytes();
    } else if (err == EAGAIN && ++changing < 1000) {
      sched_yield();
    } else {
      return err;
    }
  }
  return 0;
}

int userfaultfd_fault_source::fill_hole(const view_span& v, std::size_t offset, std::size_t bytes,
                                        bool read_only) const noexcept {
  if (!read_only) {  // zeroed memfd pages, mapped writable, in one call
    std::size_t done = 0;
    while (done < bytes) {
      uffdio_zeropage z{};
      z.range = {reinterpret_cast<std::uintptr_t>(v.app + offset + done), bytes - done};
      z.mode = UFFDIO_ZEROPAGE_MODE_DONTWAKE;
      const int e = uffd_ioctl(uffd_, UFFDIO_ZEROPAGE, z);
      if (e == 0) return 0;
      if (z.zeropage > 0) {
        done += static_cast<std::size_t>(z.zeropage);
      } else if (e == EEXIST) {  // another thread filled this one first
        done += os_page_bytes();
      } else {
        return e;
      }
    }
    return 0;
  }
  // Read-only: the memfd pages come from the runtime view, then are mapped write-protected.
  if (madvise(v.runtime + offset, bytes, MADV_POPULATE_WRITE) != 0) return errno;
  std::size_t mapped = 0;
  return continue_run(v.app + offset, bytes, true, mapped);
}

int userfaultfd_fault_source::map_in(const view_span& v, bool read_only) const noexcept {
  // Maps the memfd pages of the span into the app view. Holes (no memfd page yet: never
  // written) stay holes, as untouched memory does under signals, except those in the 64 KiB
  // window around the one the faulting thread touched, which are zero-filled in place; a later
  // touch of another one faults and is filled the same way (a window, not one page: a loop over
  // a large page then takes one fault per 64 KiB, not per 4 KiB). Nothing here wakes faulting
  // threads: the handler does, once the page is in place.
  const std::size_t os_page = os_page_bytes();
  const std::byte* touched = t_fault.addr;
  if (v.bytes == os_page && t_fault.hole && touched_in(v.app, v.bytes)) {
    return fill_hole(v, 0, os_page, read_only);  // the fault said it: a hole, no mincore needed
  }
  // Most spans have no hole (their data came back through the runtime view): map them in one
  // call, and ask mincore only where a call stopped at a hole.
  std::size_t at = 0;
  int raced = 0;  // CONTINUE saw a hole where mincore then saw a page: populated meanwhile
  while (at < v.bytes) {
    std::size_t mapped = 0;
    const int e = continue_run(v.app + at, v.bytes - at, read_only, mapped);
    at += mapped;
    if (e == 0) return 0;
    if (e != EFAULT) return e;
    // A hole at `at`: find where the holes end (the next memfd page that exists).
    std::array<unsigned char, 512> resident{};
    std::size_t end = at;
    while (end < v.bytes) {
      const std::size_t n = std::min(resident.size(), (v.bytes - end) / os_page);
      if (mincore(v.runtime + end, n * os_page, resident.data()) != 0) return errno;
      std::size_t i = 0;
      while (i < n && (resident[i] & 1) == 0) ++i;
      end += i * os_page;
      if (i < n) break;
    }
    if (end == at) {
      if (++raced == 3) return EFAULT;
      continue;
    }
    if (touched >= v.app + at && touched < v.app + end) {
      // The touched hole and its neighbours in the same fill window.
      const auto [lo, hi] = window_around(static_cast<std::size_t>(touched - v.app), at, end);
      if (const int f = fill_hole(v, lo, hi - lo, read_only); f != 0) return f;
    }
    at = end;
  }
  return 0;
}

int userfaultfd_fault_source::do_protect(const view_span& v, host_access from,
                                         host_access to) noexcept {
  const bool reapply = from == to;
  switch (to) {
    case host_access::none:
      // The data stays in the memfd (and the runtime view); the next access faults as MINOR.
      return madvise(v.app, v.bytes, MADV_DONTNEED) == 0 ? 0 : errno;
    case host_access::read:
      // Protect the mapped pages first, so no write slips in, then map the rest read-only.
      if (from == host_access::read_write || reapply) {
        if (const int e = write_protect(v.app, v.bytes, true); e != 0) return e;
      }
      if (from == host_access::read_write) return 0;  // an accessible page is mapped
      return map_in(v, true);
    case host_access::read_write:
      if (from == host_access::none || reapply) {
        if (const int e = map_in(v, false); e != 0) return e;
      }
      if (from == host_access::none && !reapply) return 0;  // a page just mapped is writable
      return write_protect(v.app, v.bytes, false);
  }
  return EINVAL;
}

int userfaultfd_fault_source::fill_window_around(const managed_range& r, std::size_t page,
                                                 const void* addr, page_state s) const noexcept {
  // The fill window around `addr`, within the page.
  const std::size_t page_start = page * r.page_size();
  const auto [lo, hi] =
      window_around(static_cast<std::size_t>(static_cast<const std::byte*>(addr) - r.base()),
                    page_start, page_start + r.page_size());
  const view_span v{r.base(), r.runtime_view(), r.reserved()};
  return fill_hole(v, lo, hi - lo, host_access_of(s) != host_access::read_write);
}

void userfaultfd_fault_source::handle() {
  using status = managed_range::fault_outcome::status;
  // The fault slot the service may hold; after a timeout it is left to the service and a new one
  // taken (a timed-out request may still be completed later).
  auto slot = std::make_unique<fault_request>();
  // The last fault this thread found already allowed and repaired: if the same thread faults at
  // the same address with the page untouched since, the repair did not take, and the access
  // fails rather than loops.
  struct healed {
    std::uint32_t tid;
    std::uint64_t addr;
    std::uint64_t serial;
    page_word word;
  } last{};
  std::array<uffd_msg, 32> msgs{};

  auto fail = [&](std::uint32_t tid, const void* addr, bool write, const managed_range& r,
                  const managed_range::fault_outcome& o) {
    std::string reason;
    if (o.st == status::timed_out) {
      reason = "was not served within the fault timeout (UVM_FAULT_TIMEOUT_MS)";
    } else if (o.st == status::spurious) {
      reason = "faults again although its state allows the access";
    } else if (o.error == ENODEV) {
      reason = "holds data no attached device can return";
    } else {
      reason = fmt::format("could not be resolved: {}", strerrorname_np(o.error));
    }
    log().critical(
        "CPU {} fault at {}: page {} of range {} (+{} bytes), state {}, {}; sending "
        "SIGBUS to the faulting thread ({})",
        write ? "write" : "read", addr, r.page_of(addr), static_cast<const void*>(r.base()),
        r.reserved(), to_string(visible_state(o.word)), reason, tid);
    syscall(SYS_tgkill, getpid(), static_cast<pid_t>(tid), SIGBUS);
  };

  for (;;) {
    std::array<pollfd, 2> fds{{{uffd_, POLLIN, 0}, {stop_fd_, POLLIN, 0}}};
    if (poll(fds.data(), fds.size(), -1) < 0) {  // idle: no fault is waiting
      if (errno == EINTR) continue;
      log().critical("poll of the userfaultfd failed: {}; CPU faults are no longer served",
                     std::strerror(errno));
      return;
    }
    if ((fds[1].revents & POLLIN) != 0) return;
    const ssize_t n = read(uffd_, msgs.data(), sizeof msgs);
    if (n < 0) {
      if (errno == EAGAIN || errno == EINTR) continue;  // another handler took it
      log().critical("read of the userfaultfd failed: {}; CPU faults are no longer served",
                     std::strerror(errno));
      return;
    }
    const auto count = static_cast<std::size_t>(n) / sizeof(uffd_msg);
    for (std::size_t i = 0; i < count; ++i) {
      const uffd_msg& m = msgs[i];
      if (m.event != UFFD_EVENT_PAGEFAULT) continue;
      const std::uint64_t flags = m.arg.pagefault.flags;
      const bool write = (flags & (UFFD_PAGEFAULT_FLAG_WRITE | UFFD_PAGEFAULT_FLAG_WP)) != 0;
      const std::uint32_t tid = m.arg.pagefault.feat.ptid;
      const auto* addr = reinterpret_cast<const void*>(m.arg.pagefault.address);
      range_registry::pin r = range_registry::process().find(addr);
      if (!r) {  // the range is gone: the retried access finds no mapping
        wake(addr, os_page_bytes());
        continue;
      }
      const bool missing = (flags & (UFFD_PAGEFAULT_FLAG_MINOR | UFFD_PAGEFAULT_FLAG_WP)) == 0;
      // Faults of one batch on the same page (for a hole, the same fill window: only that much
      // of it is filled) with no stronger access were served by the first.
      bool served = false;
      for (std::size_t j = 0; j < i && !served; ++j) {
        const auto& p = msgs[j].arg.pagefault;
        served = msgs[j].event == UFFD_EVENT_PAGEFAULT &&
                 r->contains(reinterpret_cast<const void*>(p.address)) &&
                 r->page_of(reinterpret_cast<const void*>(p.address)) == r->page_of(addr) &&
                 (!missing || p.address / fill_window == m.arg.pagefault.address / fill_window) &&
                 (!write || (p.flags & (UFFD_PAGEFAULT_FLAG_WRITE | UFFD_PAGEFAULT_FLAG_WP)) != 0);
      }
      const std::size_t page = r->page_of(addr);
      const access a = write ? access::write : access::read;
      t_fault = {static_cast<const std::byte*>(addr), missing};
      if (!served && missing) {
        // A hole in a page whose state allows the access (the part of a page never touched
        // yet): zero-fill it, as the kernel does by itself for untouched memory under signals.
        // Not a fault of the library's.
        const page_word w = r->pages().load(page);
        served = (w & busy_bit) == 0 && allows(host_access_of(stored_state(w)), a) &&
                 r->fill_in_place(page, w, [&](page_state s) {
                   return fill_window_around(*r, page, addr, s) == 0;
                 });
      }
      if (!served) {
        const auto o = r->on_cpu_fault(addr, a, *slot, tid);
        if (o.st == status::spurious) {
          if (last.tid == tid && last.addr == m.arg.pagefault.address &&
              last.serial == r->serial() && last.word == o.word) {
            fail(tid, addr, write, *r, o);
            last = {};
          } else {
            last = {tid, m.arg.pagefault.address, r->serial(), r->heal(addr, o.word)};
          }
        } else if (o.st != status::resolved) {
          if (o.st == status::timed_out) {
            (void)leak_on_purpose(slot.release());
            slot = std::make_unique<fault_request>();
          }
          fail(tid, addr, write, *r, o);
        }
      }
      t_fault = {};
      wake(r->page_address(page), r->page_size());
    }
  }
}

}  // namespace uvm::detail
