#include "host/runtime.hpp"

#include "host/backend/device_probe.hpp"
#include "host/common/check.hpp"
#include "host/common/clock.hpp"
#include "host/common/leak.hpp"
#include "host/fault/sources/acquire_fault_source.hpp"
#include "host/fault/sources/range_registry.hpp"
#include "host/telemetry/log.hpp"
#include "host/telemetry/nvtx.hpp"

#include <uvm/manager.hpp>
#include <uvm/thread.hpp>

#include <algorithm>
#include <cstdio>
#include <cstring>

#include <sys/mman.h>
#include <sys/resource.h>

namespace uvm::detail {

namespace {

std::unique_ptr<device_model> make_model(const config& c, backend_kind kind, backend& b) {
  if (c.device_model.empty()) return nullptr;
  UVM_EXPECTS(kind == backend_kind::emulated,
              "uvm: a device model (UVM_DEVICE_MODEL={}) is for the emulated device; the cuda "
              "backend's times are real",
              c.device_model);
  std::vector<device_profile> profiles;
  std::string_view list = c.device_model;
  while (!list.empty()) {
    const std::size_t comma = std::min(list.find(','), list.size());
    const std::string_view one = list.substr(0, comma);
    UVM_EXPECTS(!one.empty(), "uvm: an empty profile name in UVM_DEVICE_MODEL={}", c.device_model);
    if (one == "all") {
      for (const std::string_view name : device_profile::shipped_profiles()) {
        profiles.push_back(device_profile::shipped(name));
      }
    } else {
      profiles.push_back(device_profile::load(one));
    }
    list.remove_prefix(std::min(comma + 1, list.size()));
  }
  return std::make_unique<device_model>(std::move(profiles), c.page_size, b.device_count());
}

// Every device gets the same budget: with none configured, what the smallest default allows.
std::size_t smallest_default_budget(backend& b) {
  std::size_t budget = b.default_budget(0);
  for (device_id d = 1; d < b.device_count(); ++d) budget = std::min(budget, b.default_budget(d));
  return budget;
}

}  // namespace

runtime::runtime(config cfg)
    : cfg_((cfg.validate(), set_log_level(cfg.log), cfg)),  // the level first: choices log
      kind_(resolve_backend(cfg_.backend)),
      source_(acquire_fault_source(cfg_.faults)),
      trace_(cfg_.trace_path.empty()
                 ? nullptr
                 : std::make_unique<trace_writer>(cfg_.trace_path, cfg_.page_size)),
      timeline_(cfg_.timeline_path.empty() ? nullptr
                                           : std::make_unique<timeline>(cfg_.timeline_path)),
      backend_(make_backend(kind_, cfg_)),
      model_(make_model(cfg_, kind_, *backend_)),
      migrator_(std::make_unique<migrator>(
          *backend_, counters_,
          migrator::settings{
              cfg_.page_size,
              cfg_.device_budget != 0 ? cfg_.device_budget : smallest_default_budget(*backend_),
              cfg_.fault_timeout, to_string(cfg_.eviction), to_string(cfg_.prefetch),
              cfg_.thrashing_migrations, cfg_.thrashing_lapse,
              /*read_duplicates=*/!source_->splits_mappings(), cfg_.promote_remote,
              cfg_.custom_eviction, cfg_.custom_prefetch, timeline_.get(), model_.get()})),
      moves_(std::make_unique<move_queue>(*backend_, *migrator_, cfg_.fault_timeout, issue_,
                                          model_.get())),
      service_(std::make_unique<fault_service>(*migrator_, events_, trace_.get(), timeline_.get(),
                                               backend_->device_count())),
      ctx_{source_.get(),      &counters_,   &events_,       service_.get(),
           cfg_.fault_timeout, trace_.get(), timeline_.get()} {
  migrator_->set_trace(trace_.get());
  if (model_ != nullptr) model_->set_timeline(timeline_.get());
  if (timeline_ != nullptr) timeline_->set_devices(backend_->device_count());
  for (device_id d = 0; d < backend_->device_count(); ++d) {
    controls_.push_back({nullptr, backend_->create_stream("control", d)});
    controls_.back().words =
        static_cast<mailbox_control*>(backend_->allocate_device(sizeof(mailbox_control), d));
    migrator_->set_mailbox(
        static_cast<fault_mailbox*>(backend_->register_host(
            &service_->mailbox(d), sizeof(fault_mailbox), host_registration::read_write)),
        controls_.back().words, d);
  }
  void* w = mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (w == MAP_FAILED) throw_system("mmap of the device words' bounce page", errno);
  words_ = static_cast<std::byte*>(w);
  (void)backend_->register_host(words_, 4096, host_registration::read_write);
  install_alt_stack();
  log().debug("manager started: page size {}, backend {}, fault mechanism {}, fault timeout {} ms",
              cfg_.page_size, to_string(kind_), source_->name(), cfg_.fault_timeout.count());
}

runtime::~runtime() {
  moves_->stop();  // queued prefetches and discards run (or are dropped) first
  const bool idle = migrator_->wait_kernels(cfg_.fault_timeout);
  if (cfg_.print_stats) {
    const std::string line = summary(counters_.snapshot()) + "\n";
    std::fputs(line.c_str(), stderr);
  }
  if (!idle) {
    // Unmapping now would pull memory from under running kernels. Leak what they may touch
    // (ranges, frames, page tables, the mailbox, the device and its threads); the ranges leave
    // the registry, so the CPU sees them as stray pointers.
    log().error(
        "uvm::manager destroyed while kernels still ran after the fault timeout ({} ms): "
        "leaking its {} ranges and the device memory rather than unmapping them under the "
        "kernels",
        std::chrono::duration_cast<std::chrono::milliseconds>(cfg_.fault_timeout).count(),
        ranges_.size());
    std::lock_guard lock(mutex_);
    for (auto& [base, e] : ranges_) {
      (void)range_registry::process().remove(e.range.get(), std::chrono::seconds(1));
      (void)leak_on_purpose(e.range.release());
    }
    ranges_.clear();
    service_->stop();  // device faults now end in bounded device errors
    (void)leak_on_purpose(service_.release());
    (void)leak_on_purpose(moves_.release());
    (void)leak_on_purpose(migrator_.release());
    (void)leak_on_purpose(new std::vector(std::move(controls_)));  // their threads go with them
    (void)leak_on_purpose(backend_.release());
    (void)leak_on_purpose(trace_.release());
    if (timeline_ != nullptr) timeline_->finish();  // what the leaked parts push is not written
    (void)leak_on_purpose(timeline_.release());
    return;
  }
  {
    std::lock_guard lock(mutex_);
    while (!ranges_.empty()) destroy(ranges_.begin());
  }
  service_->stop();
  for (device_id d = 0; d < controls_.size(); ++d) {
    backend_->unregister_host(&service_->mailbox(d));
    backend_->free_device(controls_[d].words);
  }
  backend_->unregister_host(words_);
  munmap(words_, 4096);
}

managed_range* runtime::allocate(std::size_t bytes, attach_kind initial) {
  UVM_NVTX_FUNC_RANGE();
  UVM_EXPECTS(initial == attach_kind::global || initial == attach_kind::host,
              "uvm::manager::allocate: a range starts attached global or host (as "
              "cudaMallocManaged's flags); attach it to a stream with attach()");
  UVM_EXPECTS(bytes != 0, "uvm::manager::allocate: size 0 (a range holds at least one byte)");
  UVM_EXPECTS(bytes <= manager::max_allocation(),
              "uvm::manager::allocate: {} bytes is more than max_allocation() = {} bytes", bytes,
              manager::max_allocation());
  auto r = std::make_unique<managed_range>(ctx_, bytes, cfg_.page_size);
  migrator_->attach(*r);
  if (initial == attach_kind::host) {
    try {
      migrator_->attach_stream(*r, attach_kind::host, nullptr, nullptr);
    } catch (...) {
      migrator_->detach(*r);
      throw;
    }
  }
  const auto base = reinterpret_cast<std::uintptr_t>(r->base());
  try {
    range_registry::process().add(base, base + r->reserved(), r.get());
  } catch (...) {
    migrator_->detach(*r);
    throw;
  }
  managed_range* raw = r.get();
  try {
    std::lock_guard lock(mutex_);
    ranges_.emplace(base, entry{std::move(r), false});
  } catch (...) {
    // Not published: the handler must not find a range that is about to be unmapped.
    (void)range_registry::process().remove(raw, std::chrono::seconds(30));
    migrator_->detach(*raw);
    throw;
  }
  if (trace_ != nullptr) {
    trace_->push({trace_kind::range, 0, 0, raw->device().range_id, 0,
                  static_cast<std::uint32_t>(raw->page_count())});
  }
  if (timeline_ != nullptr) {
    const std::uint64_t now = now_ns();
    timeline_->push({.start_ns = now,
                     .end_ns = now,
                     .value = bytes,
                     .range_id = raw->device().range_id,
                     .kind = timeline_kind::range_created});
  }
  log().debug("allocated {} bytes at {:#x} ({} pages of {} bytes)", bytes, base, raw->page_count(),
              raw->page_size());
  return raw;
}

void runtime::destroy(std::map<std::uintptr_t, entry>::iterator it) noexcept {
  managed_range* r = it->second.range.get();
  if (timeline_ != nullptr) {
    const std::uint64_t now = now_ns();
    timeline_->push({.start_ns = now,
                     .end_ns = now,
                     .range_id = r->device().range_id,
                     .kind = timeline_kind::range_freed});
  }
  // Wait for handlers still resolving faults in it: at most one fault timeout, plus slack.
  const auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(cfg_.fault_timeout) +
                    std::chrono::seconds(1);
  if (!range_registry::process().remove(r, wait)) {
    log().error(
        "range at {} is still in use by a fault handler after {} ms; leaking it rather "
        "than unmapping memory in use",
        static_cast<void*>(r->base()), wait.count());
    (void)it->second.range.release();
  } else {
    migrator_->detach(*r);
  }
  ranges_.erase(it);
}

void runtime::free_after_kernels(std::uintptr_t base) noexcept {
  // The kernels in flight that may use the range, and the queued moves of its pages; a kernel
  // launched later cannot have been given it. The lock is not held while waiting: kernels and
  // other threads may need the runtime meanwhile.
  managed_range* r = nullptr;
  {
    std::lock_guard lock(mutex_);
    auto it = ranges_.find(base);
    if (it == ranges_.end()) return;
    r = it->second.range.get();
  }
  const auto deadline = std::chrono::steady_clock::now() + cfg_.fault_timeout;
  const bool quiet = moves_->wait_range(r, cfg_.fault_timeout) &&
                     migrator_->wait_users(*r, deadline - std::chrono::steady_clock::now());
  if (!quiet) {
    std::lock_guard lock(mutex_);
    auto it = ranges_.find(base);
    if (it == ranges_.end()) return;
    it->second.released = true;
    log().error(
        "uvm: freeing range {:#x}: kernels (or queued moves) still used it after the fault "
        "timeout ({} ms); the range stays mapped and is freed with its manager",
        base, std::chrono::duration_cast<std::chrono::milliseconds>(cfg_.fault_timeout).count());
    return;
  }
  std::lock_guard lock(mutex_);
  auto it = ranges_.find(base);
  if (it != ranges_.end()) destroy(it);
}

void runtime::free(managed_range* r) noexcept {
  UVM_NVTX_FUNC_RANGE();
  free_after_kernels(reinterpret_cast<std::uintptr_t>(r->base()));
}

void runtime::release(managed_range* r) noexcept {
  std::lock_guard lock(mutex_);
  auto it = ranges_.find(reinterpret_cast<std::uintptr_t>(r->base()));
  if (it != ranges_.end()) it->second.released = true;
}

void runtime::free_released(void* base) {
  UVM_NVTX_FUNC_RANGE();
  {
    std::lock_guard lock(mutex_);
    auto it = ranges_.find(reinterpret_cast<std::uintptr_t>(base));
    UVM_EXPECTS(it != ranges_.end(),
                "uvm::manager::free({}): not the start of a live range of this manager (freed "
                "twice, or never allocated here)",
                base);
    UVM_EXPECTS(it->second.released,
                "uvm::manager::free({}): the range is still owned by a uvm::range; destroy or "
                "reset() that object instead",
                base);
  }
  free_after_kernels(reinterpret_cast<std::uintptr_t>(base));
}

managed_range& runtime::find(const void* p) const {
  std::lock_guard lock(mutex_);
  auto it = ranges_.upper_bound(reinterpret_cast<std::uintptr_t>(p));
  if (it != ranges_.begin()) {
    --it;
    if (it->second.range->contains(p)) return *it->second.range;
  }
  throw_invalid("uvm: {} is not inside any live range of this manager", p);
}

stream runtime::create_stream(std::string_view name, int device) {
  expect_device(location::device(device), "create_stream");
  stream s = backend_->create_stream(name, static_cast<device_id>(device));
  if (timeline_ != nullptr) {
    timeline_->name_stream(s.get(), backend_->device_count() > 1
                                        ? fmt::format("{} (device {})", name, device)
                                        : std::string(name));
  }
  return s;
}

void runtime::attach(const void* p, std::size_t bytes, attach_kind k, const uvm::stream& s) {
  UVM_EXPECTS(k == attach_kind::global || k == attach_kind::host || k == attach_kind::single,
              "uvm::manager::attach: unknown attachment {}", static_cast<int>(k));
  managed_range& r = find(p);
  UVM_EXPECTS(p == r.base() && (bytes == 0 || bytes == r.size() || bytes == r.reserved()),
              "uvm::manager::attach({}, {}): attachment is per allocation: pass the start of a "
              "range and 0 or its size ({} at {})",
              p, bytes, r.size(), static_cast<void*>(r.base()));
  const stream& target = stream_of(s);
  // Stream-ordered: in effect once the work queued on `s` so far has finished.
  migrator_->attach_stream(r, k, target, backend_->record(target));
}

void runtime::launch(std::size_t n, kernel_body body, const uvm::stream& s,
                     std::span<const resident_span> touches, bool declared) {
  UVM_NVTX_FUNC_RANGE();
  const epoch e = begin_epoch({}, touches, declared, s);
  // The kernel and its end go into the stream together: no queued move's gate between them
  // (kernel_epochs, Order), so the epoch's place is the kernel's.
  const std::unique_lock issue = lock_issue(s, e.ticket);
  try {
    if (model_ != nullptr) body = metered(std::move(body), s, e.ticket);
    backend_->launch(n, std::move(body), stream_of(s));
  } catch (...) {
    close_epoch(s, e.ticket);
    throw;
  }
  close_epoch(s, e.ticket);
}

runtime::epoch runtime::begin_epoch(std::span<const resident_span> declared,
                                    std::span<const resident_span> touches, bool only_touches,
                                    const uvm::stream& s) {
  UVM_NVTX_FUNC_RANGE();
  std::vector<page_use> uses;
  for (const resident_span& t : touches) {
    const span sp = span_of(t.data, t.bytes, "launch");
    uses.push_back(migrator::pages_of(sp.range, sp.first, sp.count));
  }
  // Declarations that share pages are placed as one span, writable if any of them writes:
  // placing the same page twice would let the later declaration decide its state.
  struct placed {
    managed_range* range;
    std::size_t first, count;  // pages
    bool write;
    std::byte* device = nullptr;
  };
  std::vector<placed> spans;  // all checked before any page moves
  for (const resident_span& d : declared) {
    const span sp = span_of(d.data, d.bytes, "begin_launch");
    placed p{&sp.range, sp.first, sp.count, d.write};
    for (std::size_t i = 0; i < spans.size();) {
      placed& q = spans[i];
      if (q.range != p.range || q.first + q.count <= p.first || p.first + p.count <= q.first) {
        ++i;
        continue;
      }
      const std::size_t end = std::max(q.first + q.count, p.first + p.count);
      p.first = std::min(q.first, p.first);
      p.count = end - p.first;
      p.write |= q.write;
      spans.erase(spans.begin() + static_cast<std::ptrdiff_t>(i));
      i = 0;  // the union may now overlap a span it skipped
    }
    spans.push_back(p);
  }
  // The device model charges the placement to the stream, before the kernel.
  const device_model::op_id placing =
      model_ != nullptr && !spans.empty()
          ? model_->issue_moves(device_model::key_of(stream_of(s).get()),
                                backend_->device_of(stream_of(s)))
          : 0;
  struct placed_for_model {
    device_model* model;
    device_model::op_id op;
    ~placed_for_model() {
      if (model != nullptr && op != 0) model->moves_done(op);
    }
  } done_placing{model_.get(), placing};
  try {
    const device_model::charge_scope charge({device_model::target::kind::moves, placing});
    for (placed& p : spans) {
      // Spans placed for this launch keep their frames while the next ones are placed.
      p.device = migrator_->make_resident(*p.range, p.first, p.count, p.write,
                                          backend_->device_of(stream_of(s)));
    }
  } catch (...) {
    migrator_->forget_declared();
    throw;
  }
  std::vector<resident_mapping> out;
  for (const resident_span& d : declared) {
    const auto* host = static_cast<const std::byte*>(d.data);
    for (const placed& p : spans) {
      const std::byte* base = p.range->page_address(p.first);
      if (host >= base && host < base + p.count * p.range->page_size()) {
        out.push_back({host, d.bytes, p.device + (host - base)});
        break;
      }
    }
  }
  kernel_epochs::ticket t = 0;
  try {
    // Before the kernel can run: CPU faults on pages it may use now wait for it.
    t = migrator_->begin_launch(stream_of(s), uses, only_touches);
  } catch (...) {
    migrator_->forget_declared();
    throw;
  }
  if (trace_ != nullptr) {
    trace_->push({trace_kind::epoch, 0, static_cast<std::uint16_t>(s.device()), 0, 0,
                  epoch_.fetch_add(1) + 1});
  }
  return {std::move(out), t};
}

void runtime::hold_for_registrations(const uvm::stream& s, std::uint64_t ticket) {
  (void)lock_issue(s, ticket);
}

std::unique_lock<std::mutex> runtime::lock_issue(const uvm::stream& s, std::uint64_t ticket) {
  try {
    return migrator_->lock_issue(issue_, stream_of(s), ticket);
  } catch (...) {
    end_epoch(s, ticket);  // nothing was enqueued
    throw;
  }
}

void runtime::end_epoch(const uvm::stream& s, std::uint64_t ticket) noexcept {
  const std::lock_guard issue(issue_);
  close_epoch(s, ticket);
}

void runtime::close_epoch(const uvm::stream& s, std::uint64_t ticket) noexcept {
  const stream& target = stream_of(s);
  event done;
  try {
    done = backend_->record(target);
  } catch (const std::exception& e) {
    // The stream is broken (a failed device): wait for nothing rather than for ever.
    log().error("uvm: could not record the end of an epoch: {}", e.what());
  }
  migrator_->end_launch(ticket, std::move(done));
}

void runtime::run(std::size_t n, kernel_body body, const uvm::stream& s, std::uint64_t ticket) {
  const std::lock_guard issue(issue_);
  if (model_ != nullptr) body = metered(std::move(body), s, ticket);
  backend_->launch(n, std::move(body), stream_of(s));
}

kernel_body runtime::metered(kernel_body body, const uvm::stream& s, std::uint64_t ticket) {
  const stream& on = stream_of(s);
  std::shared_ptr<access_tally> tally =
      model_->launch(ticket, device_model::key_of(on.get()), backend_->device_of(on));
  return [inner = std::move(body), tally = std::move(tally), shift = model_->line_shift()](
             std::size_t begin, std::size_t end) {
    access_meter m;
    m.line_shift = shift;
    struct installed {
      access_meter* before;
      access_meter& m;
      access_tally& tally;
      ~installed() {
        install_meter(before);
        tally.add(m);
      }
    } scope{install_meter(&m), m, *tally};
    inner(begin, end);
  };
}

void runtime::synchronize(const uvm::stream& s, std::chrono::milliseconds timeout) {
  UVM_NVTX_FUNC_RANGE();
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  const auto left = [&] { return deadline - std::chrono::steady_clock::now(); };
  const event done = backend_->record(stream_of(s));
  // A stream's work includes its kernels and its queued moves (their gates are on it). The
  // default stream synchronises with every stream, as CUDA's device-wide synchronize does: with
  // the work issued before the call, not with launches and moves that other threads issue
  // meanwhile (waiting for those could never end while a thread keeps launching).
  // Attachments are stream-ordered operations too: once a device-wide synchronize returns, every
  // one asked for before it is in effect.
  if (!backend_->wait(done, timeout) ||
      (s.is_default() && (!migrator_->wait_launched(left()) || !moves_->wait_queued(left()) ||
                          !migrator_->wait_attachments(left())))) {
    throw uvm::timeout(fmt::format(
        "uvm::manager::synchronize: the work did not finish within {} ms", timeout.count()));
  }
  if (model_ != nullptr) {
    // The kernels that ended are charged first (an epoch is retired when it is seen done).
    migrator_->retire_kernels();
    if (s.is_default()) {
      model_->wait_all();
    } else {
      model_->wait(device_model::key_of(stream_of(s).get()));
    }
  }
  if (const std::string failed = backend_->take_error(); !failed.empty()) {
    throw error("uvm::manager::synchronize: a kernel failed: " + failed);
  }
  if (const std::string failed = moves_->take_error(); !failed.empty()) {
    throw error("uvm::manager::synchronize: a queued prefetch or discard failed: " + failed);
  }
  take_device_error();
}

void runtime::take_device_error() {
  for (const control_words& c : controls_) take_device_error(c);
}

void runtime::take_device_error(const control_words& c) {
  // The control words are device memory: read them with a copy on a library stream (never a
  // synchronous read on the legacy stream), clear the error the same way. Their own stream: on
  // the default one, synchronize(s) of any stream would wait behind a running kernel.
  const stream& s = c.reader;
  // One reader at a time: the words land in one bounce page (synchronize from many threads).
  std::unique_lock words_lock(words_mutex_);
  backend_->copy_async(words_, c.words, sizeof(mailbox_control), copy_kind::device_to_host, s);
  if (!backend_->wait(backend_->record(s), cfg_.fault_timeout)) {
    log().error("uvm: reading the device error flag did not finish in time");
    return;
  }
  mailbox_control seen;
  std::memcpy(&seen, words_, sizeof seen);
  if (seen.error == 0) return;
  const std::uint32_t range_id = seen.error_range - 1;
  const std::uint32_t page = seen.error_page;
  auto* zeros = reinterpret_cast<std::uint32_t*>(words_) + 16;  // stays zero
  backend_->copy_entries_async(&c.words->error, zeros, 2, s);   // error, error_range
  if (!backend_->wait(backend_->record(s), cfg_.fault_timeout)) {
    log().error("uvm: clearing the device error flag did not finish in time");
  }
  words_lock.unlock();
  std::string where = fmt::format("range id {}", range_id);
  {
    std::lock_guard lock(mutex_);
    for (const auto& [base, e] : ranges_) {
      if (e.range->device().range_id == range_id) {
        where = fmt::format("range {:#x} (+{} bytes), now {}", base, e.range->reserved(),
                            to_string(e.range->state_of(page)));
      }
    }
  }
  if (seen.error == static_cast<std::uint32_t>(device_error::foreign_device)) {
    throw device_fault(fmt::format(
        "uvm: a kernel on a device this manager does not drive accessed page {} of {}; launch "
        "kernels on the manager's streams (manager::create_stream, device_count()); the access "
        "was dropped",
        page, where));
  }
  if (seen.error == static_cast<std::uint32_t>(device_error::not_attached)) {
    throw device_fault(fmt::format(
        "uvm: a kernel accessed page {} of {}, which no kernel in flight may use: the range is "
        "attached to the host or to another stream (manager::attach, uvmStreamAttachMemAsync), "
        "or the page is outside what the launches declared; the access was dropped",
        page, where));
  }
  throw device_fault(fmt::format(
      "uvm: a kernel's access to page {} of {} was not served within the fault timeout ({} ms, "
      "UVM_FAULT_TIMEOUT_MS); the access was dropped",
      page, where,
      std::chrono::duration_cast<std::chrono::milliseconds>(cfg_.fault_timeout).count()));
}

runtime::span runtime::span_of(const void* p, std::size_t bytes, std::string_view call) const {
  UVM_EXPECTS(bytes != 0, "uvm::manager::{}({}, 0): empty span", call, p);
  managed_range& r = find(p);
  const auto* first = static_cast<const std::byte*>(p);
  UVM_EXPECTS(bytes <= static_cast<std::size_t>(r.base() + r.reserved() - first),
              "uvm::manager::{}({}, {}): the span runs past the end of its range ({} + {})", call,
              p, bytes, static_cast<void*>(r.base()), r.reserved());
  // A cluster range's pages move at their homes' word alone: no device, advice or pinning yet.
  UVM_EXPECTS(r.gate() == nullptr || call == "range_attributes",
              "uvm::manager::{}({}, {}): the span is in a cluster range (uvm::cluster), which "
              "only CPU code may use for now",
              call, p, bytes);
  const std::size_t p0 = r.page_of(first);
  return {r, p0, r.page_of(first + bytes - 1) - p0 + 1};
}

namespace {
std::string memlock_limit() {
  rlimit lim{};
  if (getrlimit(RLIMIT_MEMLOCK, &lim) != 0) return "unknown";
  if (lim.rlim_cur == RLIM_INFINITY) return "unlimited";
  return fmt::format("{} bytes", static_cast<std::uint64_t>(lim.rlim_cur));
}
}  // namespace

void runtime::expect_device(location where, std::string_view call) const {
  UVM_EXPECTS(
      !where.is_device() || (where.device_index >= 0 && where.device_index < device_count()),
      "uvm::manager::{}: device {} does not exist (this manager drives {} device{}: 0{})", call,
      where.device_index, device_count(), device_count() == 1 ? "" : "s",
      device_count() == 1 ? "" : fmt::format(" .. {}", device_count() - 1));
}

void runtime::enqueue_moves(std::span<const prefetch_span> spans, bool discard, bool prefetch,
                            const uvm::stream& s) {
  UVM_NVTX_FUNC_RANGE();
  const std::string_view call =
      prefetch ? (discard ? "discard_and_prefetch" : "prefetch") : "discard";
  UVM_EXPECTS(!spans.empty(), "uvm::manager::{}: no spans", call);
  std::vector<move_queue::item> discards, moves;
  for (const prefetch_span& p : spans) {
    if (prefetch) expect_device(p.to, call);
    const span sp = span_of(p.data, p.bytes, call);
    if (discard) {
      // Whole pages only: a page the span covers in part keeps its other bytes.
      const std::size_t ps = sp.range.page_size();
      const auto off =
          static_cast<std::size_t>(static_cast<const std::byte*>(p.data) - sp.range.base());
      const std::size_t first = (off + ps - 1) / ps;
      const std::size_t end = std::min((off + p.bytes) / ps, sp.range.page_count());
      if (first < end) discards.push_back({&sp.range, first, end - first, move_queue::op::discard});
    }
    if (prefetch) {
      moves.push_back({&sp.range, sp.first, sp.count,
                       p.to.is_device() ? move_queue::op::to_device : move_queue::op::to_host,
                       static_cast<device_id>(p.to.is_device() ? p.to.device_index : 0)});
    }
  }
  discards.insert(discards.end(), moves.begin(), moves.end());
  if (discards.empty()) return;
  moves_->enqueue(std::move(discards), stream_of(s));
}

void runtime::advise(const void* p, std::size_t bytes, advice a, location where) {
  expect_device(where, "advise");
  UVM_EXPECTS(where.is_device() || (a != advice::set_accessed_by && a != advice::unset_accessed_by),
              "uvm::manager::advise: accessed-by names a device, not the host");
  const span sp = span_of(p, bytes, "advise");
  sp.range.advise(sp.first, sp.count, a, where);
}

range_attributes runtime::attributes(const void* p, std::size_t bytes) const {
  const span sp = span_of(p, bytes, "range_attributes");
  range_attributes a = sp.range.attributes(sp.first, sp.count);
  a.attachment = migrator_->attachment(sp.range);
  return a;
}

void runtime::pin_resident(const void* p, std::size_t bytes, location where) {
  UVM_NVTX_FUNC_RANGE();
  expect_device(where, "pin_resident");
  const span sp = span_of(p, bytes, "pin_resident");
  migrator_->pin(sp.range, sp.first, sp.count, where.is_device(),
                 static_cast<device_id>(where.is_device() ? where.device_index : 0));
  if (where.is_device()) return;
  // Lock the host pages so paging never makes a pinned range fault either.
  if (mlock(sp.range.page_address(sp.first), sp.count * sp.range.page_size()) != 0) {
    const int err = errno;
    migrator_->unpin(sp.range, sp.first, sp.count);
    // A limit, not a shortage: a system_error with the errno (ENOMEM or EPERM), as documented.
    throw system_error(
        fmt::format("uvm::manager::pin_resident: mlock of {} bytes failed: {} "
                    "(RLIMIT_MEMLOCK is {}; raise it with ulimit -l)",
                    sp.count * sp.range.page_size(), std::strerror(err), memlock_limit()),
        err);
  }
}

void runtime::unpin(const void* p, std::size_t bytes) {
  const span sp = span_of(p, bytes, "unpin");
  migrator_->unpin(sp.range, sp.first, sp.count);
  munlock(sp.range.page_address(sp.first), sp.count * sp.range.page_size());
}

void runtime::reset_stats() noexcept {
  counters_.reset();
  if (model_ != nullptr) model_->reset();
  if (service_) service_cpu_base_.store(service_->cpu_ns(), std::memory_order_relaxed);
}

stats runtime::snapshot() const {
  stats s = counters_.snapshot(static_cast<std::size_t>(device_count()));
  const std::uint64_t cpu = service_ ? service_->cpu_ns() : 0;
  const std::uint64_t base = service_cpu_base_.load(std::memory_order_relaxed);
  s.service_cpu_time = std::chrono::nanoseconds(cpu > base ? cpu - base : 0);
  if (model_ != nullptr) s.modelled = model_->snapshot();
  std::lock_guard lock(mutex_);
  s.live_ranges = ranges_.size();
  for (const auto& [base, e] : ranges_) s.reserved_bytes += e.range->reserved();
  return s;
}

}  // namespace uvm::detail
