#include <uvm/thread.hpp>

#include "host/common/check.hpp"

#include <csignal>

#include <sys/mman.h>

namespace uvm {

namespace {

// Owns the alternate signal stack uvm gave this thread; frees it at thread exit.
struct alt_stack {
  void* base = nullptr;
  std::size_t bytes = 0;
  ~alt_stack() {
    if (base == nullptr) return;
    stack_t off{};
    off.ss_flags = SS_DISABLE;
    sigaltstack(&off, nullptr);
    munmap(base, bytes);
  }
};

thread_local alt_stack t_alt_stack;

}  // namespace

void install_alt_stack() {
  if (t_alt_stack.base != nullptr) return;
  stack_t cur{};
  if (sigaltstack(nullptr, &cur) == 0 && (cur.ss_flags & SS_DISABLE) == 0) return;  // has one
  const std::size_t bytes = std::max<std::size_t>(64 * 1024, SIGSTKSZ);
  void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) detail::throw_system("mmap of an alternate signal stack", errno);
  stack_t ss{};
  ss.ss_sp = p;
  ss.ss_size = bytes;
  if (sigaltstack(&ss, nullptr) != 0) {
    const int err = errno;
    munmap(p, bytes);
    detail::throw_system("sigaltstack", err);
  }
  t_alt_stack.base = p;
  t_alt_stack.bytes = bytes;
}

}  // namespace uvm
