#include "host/fault/service/fault_service.hpp"

#include "host/common/check.hpp"
#include "host/common/clock.hpp"
#include "host/common/futex.hpp"
#include "host/fault/service/map_budget.hpp"
#include "host/fault/service/range_gate.hpp"
#include "host/telemetry/log.hpp"
#include "host/telemetry/nvtx.hpp"

#include <uvm/detail/current_device.hpp>

#include <algorithm>
#include <array>
#include <chrono>
#include <new>

#include <pthread.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace uvm::detail {

namespace {

std::atomic<std::uint32_t>& doorbell(fault_mailbox& mb) noexcept {
  return *reinterpret_cast<std::atomic<std::uint32_t>*>(&mb.doorbell);
}

// Wakes the service thread from the host (CPU faults, stop).
void wake(fault_mailbox& mb) noexcept {
  doorbell(mb).fetch_add(1, std::memory_order_acq_rel);
  futex_wake_all(doorbell(mb));
}

std::vector<fault_mailbox*> map_mailboxes(std::uint32_t devices) {
  UVM_EXPECTS(devices >= 1 && devices <= max_devices, "fault service: {} devices", devices);
  std::vector<fault_mailbox*> rings;
  for (std::uint32_t d = 0; d < devices; ++d) {
    // Page-aligned, so a backend can pin and map it for the device on its own.
    void* p = mmap(nullptr, sizeof(fault_mailbox), PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) {
      const int err = errno;
      for (fault_mailbox* mb : rings) munmap(mb, sizeof(fault_mailbox));
      throw_system("mmap of a fault mailbox", err);
    }
    rings.push_back(new (p) fault_mailbox{});
  }
  return rings;
}

}  // namespace

fault_service::fault_service(fault_resolver& resolver, event_ring& events, trace_writer* trace,
                             timeline* run_timeline, std::uint32_t devices)
    : resolver_(resolver),
      events_(events),
      trace_(trace),
      timeline_(run_timeline),
      mailboxes_(map_mailboxes(devices)),
      thread_([this] { run(); }) {
  if (timeline_ != nullptr) {
    timeline_->set_waker([](void* mb) { wake(*static_cast<fault_mailbox*>(mb)); }, &bell());
  }
  resolver_.set_bell([](void* s) { static_cast<fault_service*>(s)->kernel_admitted(); }, this);
}

fault_service::~fault_service() {
  resolver_.set_bell(nullptr, nullptr);
  stop();
  drain_events();
  if (timeline_ != nullptr) {
    timeline_->set_waker(nullptr, nullptr);
    timeline_->drain();
  }
  for (fault_mailbox* mb : mailboxes_) munmap(mb, sizeof(fault_mailbox));
}

void fault_service::drain_recorders() noexcept {
  if (trace_ != nullptr) trace_->drain();
  if (timeline_ != nullptr) timeline_->drain();
}

void fault_service::record_batch(timeline_kind kind, std::uint64_t start, std::uint32_t count,
                                 std::uint64_t records) noexcept {
  if (timeline_ == nullptr) return;
  timeline_->push({.start_ns = start,
                   .end_ns = now_ns(),
                   .value = records,
                   .tid = tid_,
                   .count = count,
                   .kind = kind});
}

void fault_service::stop() noexcept {
  if (stop_.exchange(true, std::memory_order_acq_rel)) return;
  wake(bell());
  cpu_at_stop_.store(cpu_ns(), std::memory_order_relaxed);  // ~ the end: it is stopping
  thread_.join();
  stopped_.store(true, std::memory_order_release);
}

std::uint64_t fault_service::cpu_ns() noexcept {
  if (stopped_.load(std::memory_order_acquire)) return cpu_at_stop_.load(std::memory_order_relaxed);
  clockid_t clock{};
  timespec ts{};
  if (pthread_getcpuclockid(thread_.native_handle(), &clock) != 0 ||
      clock_gettime(clock, &ts) != 0) {
    return 0;
  }
  return static_cast<std::uint64_t>(ts.tv_sec) * 1'000'000'000u +
         static_cast<std::uint64_t>(ts.tv_nsec);
}

void fault_service::kernel_admitted() noexcept {
  if (idle_.load(std::memory_order_seq_cst)) wake(bell());
}

bool fault_service::submit(fault_request& r) noexcept {
  if (!queue_.try_push(&r)) return false;
  wake(bell());
  return true;
}

void fault_service::run() {
  name_thread("uvm-fault");
  tid_ = static_cast<std::uint32_t>(syscall(SYS_gettid));
  // Its naps are polls of a few microseconds: the default slack (50 us) would stretch each.
  (void)prctl(PR_SET_TIMERSLACK, 1000UL, 0UL, 0UL, 0UL);
  std::chrono::nanoseconds nap = shortest_nap;
  while (!stop_.load(std::memory_order_acquire)) {
    const std::uint32_t seen = doorbell(bell()).load(std::memory_order_acquire);
    const auto rung = [&] { return doorbell(bell()).load(std::memory_order_acquire) != seen; };
    const bool kernels = resolver_.poll();
    kernels_.store(kernels, std::memory_order_relaxed);
    const bool cpu = serve_cpu_batch();
    const std::size_t records = serve_device_batch();
    drain_events();
    drain_recorders();
    if (records == max_batch) continue;  // more may be waiting
    if (!kernels && deferred_.empty()) {
      if (cpu && poll_for(cpu_fault_spin, rung)) continue;  // CPU faults come in runs
      // Nothing can post a device fault: sleep until the host rings (a CPU fault, a launch,
      // the timeline, stop). A launch that raced the poll above rings, or the poll below sees
      // its kernel.
      idle_.store(true, std::memory_order_seq_cst);
      if (!resolver_.poll()) futex_wait_until(doorbell(bell()), seen, deadline_after(idle_nap));
      idle_.store(false, std::memory_order_relaxed);
      nap = shortest_nap;
      continue;
    }
    // Kernels run or CPU faults wait for them. A GPU cannot wake this thread, so it polls the
    // mailbox: polling right after a batch (more faults are likely), then in naps, short at
    // first, growing to `longest_nap`.
    if (records != 0 && kernels &&
        poll_for(device_fault_spin, [&] { return device_faults_posted() || rung(); })) {
      continue;
    }
    if (cpu || records != 0) nap = shortest_nap;
    futex_wait_until(doorbell(bell()), seen, deadline_after(nap));
    nap = std::min<std::chrono::nanoseconds>(nap * 2, longest_nap);
  }
  // Nothing submitted before stop is left waiting.
  serve_cpu_batch();
  for (fault_request* r : deferred_) {
    r->error = ECANCELED;
    r->status.store(fault_request::failed, std::memory_order_release);
    futex_wake_all(r->status);
  }
  deferred_.clear();
  resolver_.cpu_faults_waiting(false);
  drain_recorders();
}

bool fault_service::serve_cpu_batch() {
  std::array<fault_request*, max_batch> batch;
  std::size_t n = 0;
  // Deferred requests first: they are the oldest.
  const std::size_t carried = std::min(deferred_.size(), batch.size());
  std::copy_n(deferred_.begin(), carried, batch.begin());
  deferred_.erase(deferred_.begin(), deferred_.begin() + static_cast<std::ptrdiff_t>(carried));
  n = carried;
  while (n < batch.size() && queue_.try_pop(batch[n])) ++n;
  if (n == 0) {
    resolver_.cpu_faults_waiting(false);
    return false;
  }
  UVM_NVTX_RANGE("cpu fault batch", n);
  const std::uint64_t start = now_ns();
  for (std::size_t i = carried; i < n; ++i) batch[i]->taken_ns = start;
  // Writes sort first within a page, so the most intrusive access is the one resolved.
  std::sort(batch.begin(), batch.begin() + n, [](const auto* a, const auto* b) {
    if (a->range != b->range) return a->range < b->range;
    if (a->page != b->page) return a->page < b->page;
    return a->kind > b->kind;
  });
  // A completed request belongs to a thread that may already have returned: after its status
  // store, only what was copied out of it may be used.
  int err = 0;
  managed_range* last_range = nullptr;
  std::size_t last_page = 0;
  std::uint64_t last_started = 0;  // when the page's resolution started (copied out)
  for (std::size_t i = 0; i < n; ++i) {
    fault_request& r = *batch[i];
    const bool same_page = i > 0 && last_range == r.range && last_page == r.page;
    last_range = r.range;
    last_page = r.page;
    if (!same_page) {
      last_started = now_ns();
      err = r.gate != nullptr ? r.gate->widen(r.page, r.kind)
                              : resolver_.resolve(*r.range, r.page, r.kind);
    }
    r.started_ns = last_started;
    if (err == fault_resolver::retry_later) {
      deferred_.push_back(&r);
      continue;
    }
    r.error = err;
    r.completed_ns = now_ns();
    r.status.store(err == 0 ? fault_request::done : fault_request::failed,
                   std::memory_order_release);
    futex_wake_all(r.status);
  }
  resolver_.cpu_faults_waiting(!deferred_.empty());
  record_batch(timeline_kind::cpu_fault_batch, start, static_cast<std::uint32_t>(n), n);
  return n > carried;
}

bool fault_service::serve_here(fault_request& r) noexcept {
  // A gated page's fault waits for other processes: the service thread's to serve.
  if (r.gate != nullptr) return false;
  UVM_NVTX_RANGE("cpu fault batch", 1);  // a batch of one, on the handler's thread
  const std::uint64_t start = now_ns();
  const int err = resolver_.try_resolve(*r.range, r.page, r.kind);
  if (err == fault_resolver::retry_later) return false;
  r.taken_ns = r.started_ns = start;
  r.error = err;
  r.completed_ns = now_ns();
  r.status.store(err == 0 ? fault_request::done : fault_request::failed, std::memory_order_release);
  return true;
}

bool fault_service::device_faults_posted() const noexcept {
  for (const fault_mailbox* mb : mailboxes_) {
    const auto& slot = mb->slots[mb->tail % fault_mailbox::capacity];
    if (load_acquire(&slot.seq) == mb->tail + 1) return true;
  }
  return false;
}

std::size_t fault_service::serve_device_batch() {
  std::array<fault_record, max_batch> batch;
  std::size_t n = 0;
  const auto rings = static_cast<std::uint32_t>(mailboxes_.size());
  for (std::uint32_t i = 0; i < rings && n < batch.size(); ++i) {
    fault_mailbox& mb = *mailboxes_[(first_ring_ + i) % rings];
    std::uint32_t tail = mb.tail;
    while (n < batch.size()) {
      const auto& slot = mb.slots[tail % fault_mailbox::capacity];
      if (load_acquire(&slot.seq) != tail + 1) break;  // empty, or a producer is mid-post
      batch[n++] = slot.record;
      ++tail;
      store_release(&mb.tail, tail);
    }
  }
  first_ring_ = (first_ring_ + 1) % rings;
  if (n == 0) return 0;
  // Deduplicate by page and device (each device waits for its own entry), keeping the most
  // intrusive access, in address order.
  std::sort(batch.begin(), batch.begin() + n, [](const auto& a, const auto& b) {
    if (a.range_id != b.range_id) return a.range_id < b.range_id;
    if (a.page != b.page) return a.page < b.page;
    if (a.device != b.device) return a.device < b.device;
    return a.access > b.access;
  });
  const auto* end = std::unique(batch.begin(), batch.begin() + n, [](const auto& a, const auto& b) {
    return a.range_id == b.range_id && a.page == b.page && a.device == b.device;
  });
  UVM_NVTX_RANGE("device fault batch", end - batch.begin());
  const std::uint64_t start = now_ns();
  resolver_.resolve_device({batch.begin(), end});
  record_batch(timeline_kind::device_fault_batch, start,
               static_cast<std::uint32_t>(end - batch.begin()), n);
  return n;
}

void fault_service::drain_events() {
  if (const std::uint64_t dropped = events_.dropped(); dropped != dropped_reported_) {
    log().warn("{} handler events were dropped: the event ring was full",
               dropped - dropped_reported_);
    dropped_reported_ = dropped;
  }
  telemetry_event e{};
  while (events_.pop(e)) {
    switch (e.kind) {
      case event_kind::coarsened:
        if (!warned_coarsening_) {
          warned_coarsening_ = true;
          log().warn(
              "the ranges' protection changes reached the mapping budget ({} of "
              "vm.max_map_count = {}); faults now resolve whole 2 MiB blocks at a time",
              map_budget::process().limit(), map_budget::max_map_count());
        }
        log().debug("coarsened {} bytes at {:#x}", e.value, e.address);
        break;
    }
  }
}

}  // namespace uvm::detail
