#include "host/fault/sources/signal_fault_source.hpp"

#include "host/coherence/managed_range.hpp"
#include "host/common/check.hpp"
#include "host/common/signal_safe_writer.hpp"
#include "host/fault/service/fault_request.hpp"
#include "host/fault/service/map_budget.hpp"
#include "host/fault/sources/range_registry.hpp"

#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <mutex>

#include <sys/mman.h>
#include <ucontext.h>

namespace uvm::detail {

namespace {

// Signal handling forces these to be global: the handler finds everything through them.
struct sigaction g_previous {};
std::mutex g_install_mutex;
std::weak_ptr<signal_fault_source> g_instance;

// The last fault of this thread that found its page already accessible (usually a race that
// another thread won), after which the page's protection was re-applied. If the very same access
// faults again with the page untouched since (same range, same generation), no state allows it
// (a protection key, a protection the library cannot set), and it is forwarded rather than
// looped on. Any other fault of the thread forgets it.
struct healed_fault {
  const void* addr;
  std::uint64_t range_serial;
  page_word word;  // after the repair; its generation changes with any transition
};
thread_local __attribute__((tls_model("initial-exec"))) healed_fault t_healed{};

struct fault_info {
  bool write;
  bool exec;
};

fault_info decode(void* ucontext) noexcept {
#if defined(__x86_64__)
  const auto* uc = static_cast<const ucontext_t*>(ucontext);
  const auto err = static_cast<unsigned long>(uc->uc_mcontext.gregs[REG_ERR]);
  return {(err & 0x2) != 0, (err & 0x10) != 0};  // page-fault error code: W/R and I/D bits
#elif defined(__aarch64__)
  const auto* uc = static_cast<const ucontext_t*>(ucontext);
  const auto* p = reinterpret_cast<const unsigned char*>(uc->uc_mcontext.__reserved);
  for (;;) {
    const auto* head = reinterpret_cast<const _aarch64_ctx*>(p);
    if (head->magic == 0 || head->size == 0) break;
    if (head->magic == ESR_MAGIC) {
      const auto esr = reinterpret_cast<const esr_context*>(head)->esr;
      const unsigned ec = (esr >> 26) & 0x3f;
      return {(ec == 0x24 || ec == 0x25) && ((esr >> 6) & 1) != 0, ec == 0x20 || ec == 0x21};
    }
    p += head->size;
  }
  return {true, false};
#else
  (void)ucontext;
  return {true, false};  // unknown: treat as the most intrusive access
#endif
}

// Hands the signal to whatever was installed before the first manager, as the kernel would have.
void forward(int sig, siginfo_t* info, void* ucontext) noexcept {
  const struct sigaction prev = g_previous;
  const bool sent = info->si_code <= 0;  // kill(), raise(), sigqueue(): not a fault
  const bool is_handler = (prev.sa_flags & SA_SIGINFO) != 0
                              ? prev.sa_sigaction != nullptr
                              : prev.sa_handler != SIG_DFL && prev.sa_handler != SIG_IGN;
  if (is_handler) {
    sigset_t mask = prev.sa_mask;
    if ((prev.sa_flags & SA_NODEFER) == 0) sigaddset(&mask, sig);
    sigset_t old;
    pthread_sigmask(SIG_BLOCK, &mask, &old);
    if ((prev.sa_flags & SA_RESETHAND) != 0) {
      g_previous.sa_handler = SIG_DFL;
      g_previous.sa_flags = 0;
    }
    if ((prev.sa_flags & SA_SIGINFO) != 0) {
      prev.sa_sigaction(sig, info, ucontext);
    } else {
      prev.sa_handler(sig);
    }
    pthread_sigmask(SIG_SETMASK, &old, nullptr);
    return;
  }
  if (prev.sa_handler == SIG_IGN && sent) return;
  // The default action (a fault cannot be ignored either): reinstate SIG_DFL. A real fault then
  // recurs when the handler returns and kills the process with SIGSEGV; a sent one is re-raised.
  struct sigaction dfl {};
  dfl.sa_handler = SIG_DFL;
  sigemptyset(&dfl.sa_mask);
  sigaction(sig, &dfl, nullptr);
  if (sent) raise(sig);
}

[[noreturn]] void report_and_abort(const void* addr, bool write, const managed_range& r,
                                   const managed_range::fault_outcome& o) noexcept {
  signal_safe_writer w;
  w << "[uvm] [critical] CPU " << (write ? "write" : "read") << " fault at " << addr << ": page "
    << std::uint64_t{r.page_of(addr)} << " of range " << static_cast<const void*>(r.base()) << " (+"
    << std::uint64_t{r.reserved()} << " bytes), state " << to_string(visible_state(o.word));
  if (o.st == managed_range::fault_outcome::status::timed_out) {
    w << ", was not served within the fault timeout (UVM_FAULT_TIMEOUT_MS)";
  } else if (o.error == ENODEV) {
    w << ", holds data no attached device can return";
  } else {
    const char* name = strerrorname_np(o.error);
    w << ", could not be resolved: " << (name != nullptr ? name : "error");
    if (o.error == ENOMEM) {
      w << " (the process is out of mappings: vm.max_map_count = "
        << static_cast<std::uint64_t>(map_budget::max_map_count()) << ")";
    }
  }
  w << "; aborting\n";
  w.flush();
  std::abort();
}

void on_sigsegv(int sig, siginfo_t* info, void* ucontext) {
  const int saved_errno = errno;
  const void* addr = info->si_addr;
  if (info->si_code > 0) {
    if (range_registry::pin r = range_registry::process().find(addr)) {
      const fault_info f = decode(ucontext);
      if (!f.exec) {
        using status = managed_range::fault_outcome::status;
        // In this frame, not below: after a timeout the service may still complete it while
        // report_and_abort runs.
        fault_request slot{};
        const auto o = r->on_cpu_fault(addr, f.write ? access::write : access::read, slot);
        if (o.st == status::resolved) {
          t_healed = {};
          errno = saved_errno;
          return;
        }
        if (o.st != status::spurious) report_and_abort(addr, f.write, *r, o);
        const healed_fault again{addr, r->serial(), o.word};
        if (t_healed.addr != again.addr || t_healed.range_serial != again.range_serial ||
            t_healed.word != again.word) {
          t_healed = {addr, r->serial(), r->heal(addr, o.word)};
          errno = saved_errno;
          return;
        }
      }
    }
  }
  t_healed = {};
  forward(sig, info, ucontext);
  errno = saved_errno;
}

}  // namespace

std::shared_ptr<signal_fault_source> signal_fault_source::acquire() {
  std::lock_guard lock(g_install_mutex);
  if (auto existing = g_instance.lock()) return existing;
  map_budget::process();  // read vm.max_map_count now, not in the handler
  struct sigaction sa {};
  sa.sa_sigaction = on_sigsegv;
  sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_NODEFER;
  sigemptyset(&sa.sa_mask);
  struct sigaction prev {};
  if (sigaction(SIGSEGV, &sa, &prev) != 0) throw_system("sigaction(SIGSEGV)", errno);
  // An instance whose destructor has not run yet leaves our handler installed: keep the
  // action saved before it.
  const bool ours = (prev.sa_flags & SA_SIGINFO) != 0 && prev.sa_sigaction == on_sigsegv;
  if (!ours) g_previous = prev;
  std::shared_ptr<signal_fault_source> s(new signal_fault_source());
  g_instance = s;
  return s;
}

signal_fault_source::signal_fault_source() = default;

signal_fault_source::~signal_fault_source() {
  // Called with the last manager gone, so no range is registered. Restore the previous action
  // unless someone installed another handler over ours since.
  std::lock_guard lock(g_install_mutex);
  if (!g_instance.expired()) return;  // a new instance took over while we waited
  struct sigaction cur {};
  if (sigaction(SIGSEGV, nullptr, &cur) == 0 && (cur.sa_flags & SA_SIGINFO) != 0 &&
      cur.sa_sigaction == on_sigsegv) {
    sigaction(SIGSEGV, &g_previous, nullptr);
  }
}

int signal_fault_source::do_protect(const view_span& v, host_access /*from*/,
                                    host_access to) noexcept {
  const int prot = to == host_access::read_write ? PROT_READ | PROT_WRITE
                   : to == host_access::read     ? PROT_READ
                                                 : PROT_NONE;
  return mprotect(v.app, v.bytes, prot) == 0 ? 0 : errno;
}

}  // namespace uvm::detail
