#include "host/migration/migrator.hpp"

#include "host/common/check.hpp"
#include "host/common/clock.hpp"
#include "host/policy/guarded_policy.hpp"
#include "host/telemetry/log.hpp"
#include "host/telemetry/nvtx.hpp"

#include <algorithm>
#include <bit>
#include <cstring>
#include <thread>

#include <sys/mman.h>

namespace uvm::detail {

namespace {

// A page is normal again after 20 lapses without a migration (10 ms at the default 500 us), and
// never sooner than 10 ms: a quiet period shorter than the lapse would forget a page that
// migrates slowly but still within the lapse.
thrashing_settings thrashing_for(const migrator::settings& s) {
  thrashing_settings t;
  t.migrations = std::max(1u, s.thrashing_migrations);
  t.lapse_ns = static_cast<std::uint64_t>(s.thrashing_lapse.count());
  t.quiet_ns = std::max<std::uint64_t>(10'000'000, 20 * t.lapse_ns);
  return t;
}

}  // namespace

migrator::migrator(backend& b, counters& c, const settings& s)
    : backend_(b),
      counters_(c),
      settings_(s),
      page_shift_(static_cast<unsigned>(std::countr_zero(s.page_size))),
      devices_(std::min<device_id>(b.device_count(), max_devices)),
      prefetch_(s.custom_prefetch ? std::make_unique<guarded_prefetch>(s.custom_prefetch())
                                  : make_prefetch_policy(s.prefetch)),
      thrashing_(thrashing_for(s)),
      compute_(b.create_stream("compute")),
      epochs_(b, s.timeout),
      timeline_(s.run_timeline),
      ranges_(b, s.table_entries, devices_),
      late_(b, epochs_, s.timeout),
      pipe_(b, c, ranges_, settler_, {s.page_size, s.timeout, s.run_timeline, s.model}) {
  for (device_id d = 0; d < devices_; ++d) {
    residencies_.push_back(std::make_unique<device_residency>(
        b, device_residency::settings{.page_size = s.page_size,
                                      .budget_bytes = s.budget_bytes,
                                      .eviction = s.eviction,
                                      .custom_eviction = s.custom_eviction,
                                      .promote_remote = s.promote_remote,
                                      .device = d}));
  }
  // Whether launches can be held while ranges allocated during kernels wait for registration.
  if (const gate probe = backend_.enqueue_gate(compute_); probe != nullptr) {
    backend_.open_gate(probe);
    gates_ = true;
  }
  host_clock_ = backend_.device_clock_is_host();
  // Zeros for first touches on the device, enough to coalesce a 2 MiB block's worth of pages.
  zero_bytes_ = std::max(s.page_size, block_bytes);
  void* z =
      mmap(nullptr, zero_bytes_, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (z == MAP_FAILED) throw_system("mmap of the zero source", errno);
  zero_ = static_cast<std::byte*>(z);
  try {
    // Read-only memory must be registered read-only (CUDA refuses it otherwise on x86/PCIe).
    (void)backend_.register_host(zero_, zero_bytes_, host_registration::read_only);
  } catch (...) {
    munmap(zero_, zero_bytes_);
    throw;
  }
  epochs_.set_model(s.model);
  if (timeline_ != nullptr) {
    epochs_.set_timeline(timeline_);
    timeline_->name_stream(compute_.get(), "uvm-compute");
  }
  log().debug("migrator: {} device{} of {} frames of {} bytes ({}), eviction {}, prefetch {}",
              devices_, devices_ == 1 ? "" : "s", residency(0).frame_count(), s.page_size,
              backend_.name(), residency(0).policy_name(), prefetch_->name());
}

migrator::~migrator() {
  (void)wait_kernels(settings_.timeout);  // the range table's graveyard goes with it
  backend_.unregister_host(zero_);
  munmap(zero_, zero_bytes_);
}

void migrator::record_instant(timeline_kind kind, std::uint32_t range_id, std::size_t page,
                              std::size_t count, std::uint8_t detail, std::uint8_t flags,
                              device_id device) noexcept {
  if (timeline_ == nullptr) return;
  const std::uint64_t now = now_ns();
  timeline_->push({.start_ns = now,
                   .end_ns = now,
                   .range_id = range_id,
                   .page = static_cast<std::uint32_t>(page),
                   .count = static_cast<std::uint32_t>(count),
                   .kind = kind,
                   .detail = detail,
                   .flags = flags,
                   .device = static_cast<std::uint8_t>(device)});
}

void migrator::attach(managed_range& r) {
  std::unique_lock lock(mutex_);
  // While no kernel is in flight none can be enqueued (begin_launch needs this lock), so what
  // allocates or registers below does so only with none in flight.
  if (!gates_) {
    // No gate to hold launches with while the range waits: its registration waits instead.
    wait_until_no_kernels(lock, "uvm::manager::allocate: registering the range's memory");
  }
  std::optional<std::uint32_t> id;
  std::vector<stream> clear_on;
  for (device_id d = 0; d < devices_; ++d) clear_on.push_back(pipe_.h2d(d));
  while (!(id = ranges_.add(r, !kernels_in_flight(), clear_on, settings_.timeout))) {
    wait_until_no_kernels(lock,
                          "uvm::manager::allocate: the page-table pool is full, and it grows only "
                          "while no kernel is in flight");
    ranges_.grow(r.page_count());
  }
  if (!ranges_.registered(*id)) late_.add();
  device_range d;
  d.devices = devices_;
  for (device_id dev = 0; dev < devices_; ++dev) {
    d.slots[dev] = {.ptes = ranges_.table(*id, dev).device(),
                    .frames = residency(dev).frames(),
                    .mailbox = rings_[dev].mailbox,
                    .control = rings_[dev].control};
  }
  for (std::uint32_t n = 0; n < max_native_devices; ++n) d.slot_of[n] = no_slot;
  for (device_id dev = 0; dev < devices_; ++dev)
    d.slot_of[backend_.native_device(dev)] = static_cast<std::uint8_t>(dev);
  d.host = ranges_.host_address(*id);
  d.bytes = r.reserved();
  d.timeout_ns = static_cast<std::uint64_t>(settings_.timeout.count());
  d.page_shift = page_shift_;
  d.metered = settings_.model != nullptr ? 1 : 0;
  d.range_id = *id;
  r.attach_device(d);
}

void migrator::detach(managed_range& r) noexcept {
  std::unique_lock lock(mutex_);
  if (trace_ != nullptr) (void)kernels_in_flight();  // the trace keeps the range's last uses
  const device_range& d = r.device();
  if (ranges_.range(d.range_id) != &r) return;  // not attached
  // Kernels on other ranges may still run (ranges are freed once none that may use them does).
  std::array<kernel_epochs::ticket, max_devices> fence{};
  for (device_id dev = 0; dev < devices_; ++dev) fence[dev] = free_fence(dev);
  for (std::size_t p = 0; p < r.page_count(); ++p) {
    if ((r.pages().load(p) & device_mapped_bit) == 0) continue;
    for (device_id dev = 0; dev < devices_; ++dev) {
      const device_pte e = read_pte(r, p, dev);
      if (!pte_in_frame(e)) continue;
      (void)residency(dev).left(pte_frame(e), {d.range_id, static_cast<std::uint32_t>(p)},
                                fence[dev]);
    }
  }
  std::erase_if(declared_, [&](const declared_span& s) { return s.range_id == d.range_id; });
  std::erase_if(denied_, [&](const denial& x) { return x.page.range_id == d.range_id; });
  std::erase_if(pins_, [&](const auto& e) { return e.first.range_id == d.range_id; });
  epochs_.forget(d.range_id);
  for (device_id dev = 0; dev < devices_; ++dev) residency(dev).forget(d.range_id);
  // Frees and unregistrations may be ordered after the kernels in flight (cudaFree waits for
  // them): while any is, kernels on other ranges among them, what the range leaves waits in
  // the graveyard.
  ranges_.remove(r, !kernels_in_flight());
}

void migrator::bury() {
  // Ranges allocated during kernels: registered once every kernel that may run is held.
  if (late_.poll() == late_registrations::turn::now) {
    ranges_.register_waiting();
    late_.done();
  }
  // mutex_ held and no kernel in flight: none can be enqueued meanwhile (begin_launch needs the
  // lock), so the frees and registrations do not wait for one.
  if ((ranges_.graveyard_empty() && ranges_.waiting() == 0) || kernels_in_flight()) return;
  ranges_.bury();
  if (ranges_.waiting() == 0) late_.done();  // queued moves held behind gates go on now
}

kernel_epochs::ticket migrator::begin_launch(const stream& s, std::span<const page_use> uses,
                                             bool declared) {
  if (trace_ != nullptr) {
    // Tracing runs kernels one at a time: the ones in flight end and are harvested before
    // this one can set bits, so the trace keeps each kernel's accesses in its own epoch. The
    // wait is short and bounded: kernels that wait for each other (or for the CPU) merge into
    // one epoch rather than deadlock.
    (void)wait_kernels(trace_epoch_wait);
  }
  // The boundary between kernels: hot remote pages move into frames before the next one.
  if (settings_.promote_remote) promote_remote();
  // Waits (unlocked) while CPU faults or queued moves wait for kernels this one may delay.
  const kernel_epochs::ticket t = epochs_.begin(s, uses, declared);
  ring_bell();  // the kernel's faults come to a service that polls for them
  std::lock_guard lock(mutex_);
  // The kernel may set dirty and accessed bits in any table of its device that it may use.
  const device_id dev = backend_.device_of(s);
  const auto live = ranges_.ranges();
  for (std::size_t id = 0; id < live.size(); ++id) {
    if (live[id] != nullptr) ranges_.table(static_cast<std::uint32_t>(id), dev).set_stale(true);
  }
  declared_.clear();  // the launch uses what was placed for it; the next one declares anew
  clear_denied();
  mask_restricted_ranges();
  return t;
}

void migrator::mask_restricted_ranges() {
  try {
    epochs_.restricted(restricted_);
    bool changed = false;
    for (const kernel_epochs::restricted_range& rr : restricted_) {
      managed_range* r = range_of(rr.range);
      if (r == nullptr) continue;
      for (device_id d = 0; d < devices_; ++d) {
        device_page_table& t = table_of(*r, d);
        if (rr.used == !t.masked()) continue;
        if (rr.used) {
          t.unmask(pipe_.h2d(d));
        } else {
          // The device's dirty and accessed bits go into the shadow first: masking overwrites
          // them. No kernel that may use the range runs, so they are final; if they cannot be
          // read, the range stays unmasked (its faults are still denied).
          refresh_device_bits(*r);
          if (t.stale()) continue;
          t.mask(pipe_.h2d(d));
        }
        changed = true;
      }
    }
    if (changed && !entries_landed()) {
      log().error("masking the entries of ranges attached elsewhere did not complete in time");
    }
  } catch (const std::exception& e) {
    log().error("masking the entries of ranges attached elsewhere failed: {}", e.what());
  }
}

void migrator::end_launch(kernel_epochs::ticket t, event e) {
  epochs_.end(t, std::move(e));
}

bool migrator::wait_kernels(std::chrono::nanoseconds timeout) {
  if (!epochs_.wait(timeout)) return false;
  std::lock_guard lock(mutex_);
  return !kernels_in_flight();
}

bool migrator::wait_launched(std::chrono::nanoseconds timeout) {
  if (!epochs_.wait(timeout)) return false;
  // The service finishes a batch (counters, harvest) under the lock after the kernel's lanes
  // have seen their entries: taking it orders the caller after the batches of those kernels.
  std::lock_guard lock(mutex_);
  (void)kernels_in_flight();
  return true;
}

void migrator::wait_until_no_kernels(std::unique_lock<std::mutex>& lock, std::string_view call) {
  const std::uint64_t deadline = now_ns() + static_cast<std::uint64_t>(settings_.timeout.count());
  while (kernels_in_flight()) {
    const std::uint64_t now = now_ns();
    if (now >= deadline) {
      throw uvm::timeout(fmt::format(
          "{}: kernels still running after the fault timeout ({} ms)", call,
          std::chrono::duration_cast<std::chrono::milliseconds>(settings_.timeout).count()));
    }
    lock.unlock();
    // False before the deadline: a launch is being enqueued (no event yet); look again shortly.
    if (!wait_kernels(std::chrono::nanoseconds(deadline - now))) {
      std::this_thread::sleep_for(std::chrono::microseconds(100));
    }
    lock.lock();
  }
}

void migrator::wait_until_unused(std::unique_lock<std::mutex>& lock, const page_use& u,
                                 const queue_position& at, std::string_view call) {
  if (!epochs_.in_use(u, at.before, at.stream)) return;
  lock.unlock();
  const bool quiet = epochs_.wait_users(u, settings_.timeout, at.before, at.stream);
  lock.lock();
  if (!quiet) {
    throw uvm::timeout(fmt::format(
        "{}: kernels that may use the pages still ran after the fault timeout ({} ms)", call,
        std::chrono::duration_cast<std::chrono::milliseconds>(settings_.timeout).count()));
  }
}

void migrator::deny(managed_range& r, std::size_t page, device_id d) {
  device_page_table& t = table_of(r, d);
  const device_pte e = t.get(page);
  if ((e & pte_denied) == 0) {
    denied_.push_back({{r.device().range_id, static_cast<std::uint32_t>(page)}, d});
    t.set(page, e | pte_denied);
  }
  t.publish(page, 1, pipe_.h2d(d));  // also clears the fault-pending bit, as every publication does
}

void migrator::clear_denied() {
  if (denied_.empty()) return;
  try {
    for (const denial& x : denied_) {
      const page_ref& p = x.page;
      managed_range* r = range_of(p.range_id);
      if (r == nullptr || p.page >= r->page_count()) continue;
      device_page_table& t = table_of(*r, x.device);
      // A move since has published an entry of its own (without the bit): a kernel may have
      // set bits in it that publishing the shadow's would overwrite.
      if ((t.get(p.page) & pte_denied) == 0) continue;
      t.set(p.page, t.get(p.page) & ~pte_denied);
      t.publish(p.page, 1, pipe_.h2d(x.device));
    }
    // The next kernel must not find an old denial: the entries land before it is enqueued.
    if (!entries_landed()) {
      log().error("clearing denied device entries did not complete within the fault timeout");
    }
  } catch (const std::exception& e) {
    log().error("clearing denied device entries failed: {}", e.what());
  }
  denied_.clear();
}

bool migrator::kernels_in_flight() {
  const kernel_epochs::state st = epochs_.poll();
  if (st.ended) harvest_accessed();
  if (!st.in_flight) {
    for (device_id d = 0; d < devices_; ++d) {
      residency(d).release_quarantined(device_residency::no_fence);
    }
  }
  return st.in_flight;
}

// A fence of no kernel frees a frame at once.
static_assert(kernel_epochs::no_ticket == device_residency::no_fence);

kernel_epochs::ticket migrator::free_fence(device_id d, const page_use* pages) noexcept {
  // A stream-ordered move's own stream runs no kernel now: its earlier ones have finished, and
  // its later ones wait behind the move's gate (they start after the free, caches fresh). Nor
  // have the kernels queued behind other operations' gates started: a pipeline's frames, given
  // back by one chunk while the next chunk's kernel waits, are free once the kernels running
  // meanwhile end, not once every kernel queued by then has.
  return epochs_.free_fence(moving_on_, d, pages);
}

void migrator::harvest_accessed() {
  // The trace records every page a kernel used here, faulted or not, in page order: a run with
  // everything resident records what the program accesses whatever the policy, and the same
  // run records the same trace (the order in which parallel lanes fault is not reproducible).
  if (!residency(0).wants_accesses() && trace_ == nullptr) return;
  refresh_device_bits();
  for (device_id d = 0; d < devices_; ++d) harvest_accessed(d);
}

void migrator::harvest_accessed(device_id d) {
  device_residency& residency = this->residency(d);
  residency.begin_harvest();
  bool cleared = false;
  try {
    for (managed_range* r : ranges_.ranges()) {
      if (r == nullptr) continue;
      device_page_table& t = table_of(*r, d);
      // Bits not read back (a kernel that may use the range still runs): nothing to harvest,
      // and publishing the shadow would overwrite the bits that kernel sets.
      if (t.stale()) continue;
      const std::uint32_t id = r->device().range_id;
      std::size_t run = 0;  // entries cleared just before p, published as one copy
      for (std::size_t p = 0; p <= r->page_count(); ++p) {
        // A claimed page has an entry on its way (a move in a chunk not yet completed): it is
        // neither harvested nor republished.
        const device_pte e = p < r->page_count() ? t.get(p) : 0;
        const bool clear =
            p < r->page_count() &&
            (r->pages().load(p) & (device_mapped_bit | busy_bit)) == device_mapped_bit &&
            (e & pte_accessed) != 0;
        if (clear) {
          const auto page = static_cast<std::uint32_t>(p);
          // Remote pages have no frame for the policy to rank, but the kernel used them: used
          // again in the next epochs, they are promoted into frames. A peer's frame is the
          // owner's to rank.
          if ((e & pte_peer) == 0) residency.used({id, page}, (e & pte_remote) != 0);
          if (trace_ != nullptr) {
            trace_->push({trace_kind::device_access,
                          static_cast<std::uint8_t>((e & pte_dirty) != 0),
                          static_cast<std::uint16_t>(d), id, page, 0});
          }
          t.set(p, e & ~pte_accessed);
          ++run;
          continue;
        }
        cleared |= run != 0;
        if (run != 0) t.publish(p - run, run, pipe_.h2d(d));
        run = 0;
      }
    }
  } catch (const std::exception& e) {
    log().error("clearing accessed bits failed: {}", e.what());
  }
  // No kernel that may use these tables runs, and the next one starts after the bits are
  // clear. The copies read the shadow entries when they run, so they must also have landed
  // before any entry changes again: after a failure, one more try.
  if (cleared && !entries_landed() && !entries_landed()) {
    log().error("clearing accessed bits did not complete within the fault timeout");
  }
}

bool migrator::entries_landed() noexcept {
  try {
    bool landed = true;
    for (device_id d = 0; d < devices_; ++d) {
      landed = backend_.wait(backend_.record(pipe_.h2d(d)), settings_.timeout) && landed;
    }
    return landed;
  } catch (const std::exception& e) {
    log().error("waiting for page-table entries failed: {}", e.what());
    return false;
  }
}

void migrator::refresh_device_bits() {
  for (managed_range* r : ranges_.ranges()) {
    if (r != nullptr) refresh_device_bits(*r);
  }
}

void migrator::refresh_device_bits(managed_range& r) {
  for (device_id d = 0; d < devices_; ++d) {
    device_page_table& t = table_of(r, d);
    if (!t.stale()) continue;
    // Only while no kernel that may use the range runs: it could still set bits after the read.
    if (epochs_.in_use(whole(r))) return;
    bool ok = false;
    try {
      // Claimed pages have entries on their way; their bits were read when they were claimed.
      const auto idle = [&r](std::size_t p) { return (r.pages().load(p) & busy_bit) == 0; };
      ok = t.refresh_device_bits(pipe_.d2h(d), settings_.timeout, idle);
      if (!ok) log().error("reading the device's dirty and accessed bits did not complete in time");
    } catch (const std::exception& e) {
      log().error("reading the device's dirty and accessed bits failed: {}", e.what());
    }
    t.set_stale(!ok);
  }
}

void migrator::expand_fault(managed_range& r, std::size_t page, device_id d, chunk& c) {
  const std::size_t per_block = std::max<std::size_t>(1, block_bytes >> page_shift_);
  const std::size_t first = page - page % per_block;
  block_state b;
  b.first_page = first;
  b.page_count = std::min(per_block, r.page_count() - first);
  b.page_bytes = r.page_size();
  // Pages being moved (this chunk's included) count as resident: they are on their way.
  b.resident = [&](std::size_t q) {
    return (r.pages().load(q) & busy_bit) != 0 || (read_pte(r, q, d) & pte_valid) != 0;
  };
  const std::uint64_t now = now_ns();
  b.thrashing = [&](std::size_t q) {
    return thrashing_.thrashing({r.device().range_id, static_cast<std::uint32_t>(q)}, now);
  };
  std::vector<std::size_t> extra;
  prefetch_->expand(page, b, extra);
  std::size_t started = 0;
  for (const std::size_t q : extra) {
    // Advice that keeps a page where it lives holds for the pages a fault brings along, as for
    // the faulting one (which a fault maps rather than moves): preferred on the host or on
    // another device, or accessed by this one. Only an explicit prefetch moves such pages.
    const page_word w = r.pages().load(q);
    const bool stays = (w & preferred_host_bit) != 0 ||
                       ((w & preferred_device_bit) != 0 && r.device_advice().preferred(q) != d) ||
                       (r.device_advice().accessed_by(q) & (1u << d)) != 0;
    if (!stays) started += start_to_device(r, q, d, false, false, c) ? 1 : 0;
  }
  counters_.prefetched_pages.fetch_add(started, std::memory_order_relaxed);
}

bool migrator::do_poll() noexcept {
  // Device faults on pages that were busy: served by the service, not re-posted by the device.
  std::vector<fault_record> retry;
  {
    std::lock_guard lock(mutex_);
    // With no kernel left, nobody waits for them (and a page freed since must not move).
    if (!device_retry_.empty() && !kernels_in_flight()) device_retry_.clear();
    retry.swap(device_retry_);
  }
  if (!retry.empty()) do_resolve_device(retry);
  std::lock_guard lock(mutex_);
  pipe_.poll();  // chunks whose copies outlived the timeout finish once they land
  bury();
  for (device_id d = 0; d < devices_; ++d) {
    if (residency(d).quarantined() != 0) {
      residency(d).release_quarantined(epochs_.oldest_running(d));
    }
  }
  return kernels_in_flight();
}

void migrator::do_cpu_faults_waiting(bool waiting) noexcept {
  std::lock_guard lock(mutex_);
  if (!waiting) cpu_waiting_.clear();
  epochs_.cpu_waiters(cpu_waiting_);  // the pages of this batch's faults that wait for kernels
  cpu_waiting_.clear();
}

void migrator::page_settler::do_landed(std::span<const move> moves) {
  migrator& m = m_;
  const std::uint64_t now = now_ns();  // one clock read per chunk, not per page
  // Frames freed while kernels run are quarantined until those kernels that may use the pages
  // have ended (their caches may hold the old page): asked once per chunk and device, for the
  // span of the pages it frees there (all pages if they are of several ranges), and only if it
  // frees a frame.
  std::array<std::optional<page_use>, max_devices> freed;  // by device: the span freed
  std::array<bool, max_devices> ranges{};                  // by device: several ranges freed
  for (const move& mv : moves) {
    if (!mv.freed) continue;
    const std::uint32_t id = mv.range->device().range_id;
    std::optional<page_use>& f = freed[mv.device];
    if (!f) {
      f = page_use{id, mv.page, 1};
    } else if (f->range != id) {
      ranges[mv.device] = true;
    } else {
      const std::size_t first = std::min(f->first, mv.page);
      const std::size_t end = std::max(f->first + f->count, mv.page + 1);
      f = page_use{id, first, end - first};
    }
  }
  std::array<std::optional<kernel_epochs::ticket>, max_devices> fence;  // by device
  for (const move& mv : moves) {
    const page_ref ref{mv.range->device().range_id, static_cast<std::uint32_t>(mv.page)};
    // A page that changed sides (not a first touch, not a discard) counts towards thrashing;
    // an eviction and the move that brings the evicted page back do not: they are capacity
    // misses, and pinning the pages of a loop too big for the device would only make it worse.
    bool capacity = false;
    if (mv.freed) {
      if (!fence[mv.device]) {
        fence[mv.device] =
            m.free_fence(mv.device, ranges[mv.device] ? nullptr : &*freed[mv.device]);
      }
      capacity = m.residency(mv.device).left(*mv.freed, ref, *fence[mv.device]);
    }
    if (mv.taken) capacity = m.residency(mv.device).arrived(ref);
    m.map_accessing_devices(mv);
    if (m.settings_.thrashing_migrations == 0 || capacity || mv.target == page_state::unpopulated ||
        !((mv.taken && mv.from != page_state::unpopulated) || mv.freed)) {
      continue;
    }
    switch (m.thrashing_.on_migration(ref, now)) {
      case thrashing_detector::verdict::normal: break;
      case thrashing_detector::verdict::throttle:
        m.counters_.thrashing_throttles.fetch_add(1, std::memory_order_relaxed);
        m.record_instant(timeline_kind::thrashing, ref.range_id, mv.page, 1, 0);
        log().debug("page {} of range {} is thrashing: left out of prefetch", mv.page,
                    static_cast<void*>(mv.range->base()));
        break;
      case thrashing_detector::verdict::pin_remote:
        m.counters_.thrashing_pins.fetch_add(1, std::memory_order_relaxed);
        m.record_instant(timeline_kind::thrashing, ref.range_id, mv.page, 1, 1);
        m.pinned_.insert(ref);
        log().info(
            "page {} of range {} keeps thrashing: pinned where it is (mapped remote, or "
            "from the peer, elsewhere)",
            mv.page, static_cast<void*>(mv.range->base()));
        break;
    }
  }
}

// As CUDA keeps an accessed-by device's mapping across migrations: each device advised to
// access the page (set_accessed_by) that reaches the new owner's frame maps it as a peer, where it
// had no entry. Stores through a peer mapping set the peer's dirty bit, so the owner's copy
// counts as written (it comes back to the host). A device that cannot reach the frame maps the
// page at its next fault, as before.
void migrator::map_accessing_devices(const transfer_pipeline::move& mv) {
  if (devices_ == 1 || !mv.taken || mv.target != page_state::device_exclusive ||
      *mv.taken >= max_peer_frames) {
    return;
  }
  std::uint32_t mask =
      mv.range->device_advice().accessed_by(mv.page) & ~(1u << mv.device) & ((1u << devices_) - 1u);
  bool mapped = false;
  for (device_id a = 0; mask != 0; ++a, mask >>= 1) {
    if ((mask & 1u) == 0 || !backend_.can_access_peer(a, mv.device)) continue;
    device_page_table& t = table_of(*mv.range, a);
    if ((t.get(mv.page) & pte_valid) != 0) continue;
    t.set(mv.page, make_peer_pte(mv.device, *mv.taken, pte_valid | pte_writable));
    t.publish(mv.page, 1, pipe_.h2d(a));
    counters_.mapped_remote(a);
    record_instant(timeline_kind::remote_mapping, mv.range->device().range_id, mv.page, 1, 0, 1, a);
    mapped = true;
  }
  if (mapped) {
    device_page_table& owner = table_of(*mv.range, mv.device);
    owner.set(mv.page, owner.get(mv.page) | pte_dirty);
  }
}

void migrator::page_settler::do_dropped(std::span<const drop> drops) noexcept {
  std::array<std::optional<kernel_epochs::ticket>, max_devices> fence;  // by device, when asked
  for (const drop& d : drops) {
    if (!d.freed) continue;
    if (!fence[d.device]) fence[d.device] = m_.free_fence(d.device);
    const page_ref ref{d.range->device().range_id, static_cast<std::uint32_t>(d.page)};
    (void)m_.residency(d.device).left(*d.freed, ref, *fence[d.device]);
  }
}

bool migrator::pinned(page_ref p) {
  if (pinned_.empty() || !pinned_.contains(p)) return false;
  if (thrashing_.thrashing(p, now_ns())) return true;
  pinned_.erase(p);  // quiet long enough: decisions are normal again
  return false;
}

managed_range* migrator::range_of(std::uint32_t id) const noexcept {
  return ranges_.range(id);
}

device_page_table& migrator::table_of(const managed_range& r, device_id d) const noexcept {
  return ranges_.table(r.device().range_id, d);
}

device_pte migrator::read_pte(const managed_range& r, std::size_t page,
                              device_id d) const noexcept {
  return table_of(r, d).get(page);
}

migrator::holders migrator::holders_of(const managed_range& r, std::size_t page) const noexcept {
  holders h;
  for (device_id d = 0; d < devices_; ++d) {
    const device_pte e = read_pte(r, page, d);
    if ((e & pte_valid) == 0) continue;
    h.mapped |= 1u << d;
    if (!pte_in_frame(e)) continue;
    h.frames |= 1u << d;
    if ((e & pte_writable) != 0) h.owner = d;
  }
  return h;
}

device_id migrator::data_device(managed_range& r, std::size_t page) const noexcept {
  if (devices_ == 1) return 0;
  const holders h = holders_of(r, page);
  return stored_state(r.pages().load(page)) == page_state::device_exclusive && h.owner ? *h.owner
                                                                                       : 0;
}

void migrator::drop_entries(managed_range& r, std::size_t page, std::uint32_t mask,
                            chunk& c) noexcept {
  for (device_id d = 0; d < devices_; ++d) {
    if ((mask & (1u << d)) == 0) continue;
    const device_pte e = read_pte(r, page, d);
    if ((e & pte_valid) == 0) continue;
    drop x{&r, page, d, e, std::nullopt};
    if (pte_in_frame(e)) x.freed = pte_frame(e);
    c.drops.push_back(x);  // reserve_drops made room
  }
}

bool migrator::start_to_device(managed_range& r, std::size_t page, device_id d, bool write,
                               bool allow_remote, chunk& c, const placement* at) {
  page_word w = r.pages().load(page);
  if ((w & busy_bit) != 0) return false;  // another transition: the device re-posts
  const device_pte e = read_pte(r, page, d);
  // A raw kernel sets no dirty bit: a page placed for writing is dirty from the start.
  const device_pte written = at != nullptr ? pte_dirty : 0;
  const device_pte need = write ? (pte_valid | pte_writable | written) : pte_valid;
  // A page mapped remote (the host page) or from a peer (another device's frame) serves device
  // faults as it is; a prefetch brings it into a frame.
  const bool remote = (e & pte_remote) != 0;
  const bool mapped_elsewhere = (e & (pte_remote | pte_peer)) != 0;
  const bool in_frame = pte_in_frame(e);
  if ((e & need) == need && !(mapped_elsewhere && (!allow_remote || at != nullptr))) {
    return false;  // served
  }
  // A kernel may be storing through such a mapping: moving the page now would lose the stores
  // that land between the copy and the new entry. It moves between kernels. A read-only one
  // (beside other devices' read-only duplicates) takes no stores: a write upgrades it now, or
  // its lanes would wait for the kernel they belong to.
  if (mapped_elsewhere && (e & pte_writable) != 0 && kernels_running_) return false;
  // A placement needs the page in its frame, or the frame free (the caller made it so).
  if (at != nullptr && (in_frame ? pte_frame(e) != at->frame : !residency(d).is_free(at->frame))) {
    return false;
  }
  const page_state s = stored_state(w);
  const page_ref ref{r.device().range_id, static_cast<std::uint32_t>(page)};
  // The other devices' entries: read-only duplicates, remote and peer mappings, or the owner's.
  const holders h = devices_ == 1 ? holders{} : holders_of(r, page);
  const std::uint32_t others = h.mapped & ~(1u << d);
  c.reserve_one();  // nothing below may throw once the page is claimed
  if (others != 0) reserve_drops(c);
  if (!r.pages().try_claim(page, w)) return false;

  move m{&r, page, s, page_state::device_exclusive};
  m.old_pte = e;
  m.device = d;
  if (s == page_state::device_exclusive && h.owner && *h.owner != d) {
    // Another device holds the only copy. While a kernel there may use it, the page stays (a
    // store through its entry after the copy would be lost) and this device maps the owner's
    // frame as a peer; otherwise it moves device to device. Advice keeps it there too (the
    // owner is its preferred location, or this device is one that accesses it where it lives),
    // and so does thrashing: a page that keeps moving between devices is pinned where it is.
    const device_id o = *h.owner;
    const std::uint32_t owner_frame = pte_frame(read_pte(r, page, o));
    const bool advised_to_stay =
        at == nullptr && allow_remote &&
        (((w & preferred_device_bit) != 0 && r.device_advice().preferred(page) == o) ||
         (r.device_advice().accessed_by(page) & (1u << d)) != 0 || pinned(ref));
    std::optional<std::uint32_t> f;
    if (!advised_to_stay &&
        !(kernels_running_ && epochs_.in_use_on({ref.range_id, page, 1}, others))) {
      if (at != nullptr) {
        residency(d).take_at(at->frame, ref);
        f = at->frame;
      } else {
        f = take_frame(d, ref);
      }
    }
    if (f) {
      // The host's copy is stale: the new one is dirty, so it comes back when the host asks.
      m.pte = make_pte(*f, pte_valid | pte_writable | pte_dirty);
      m.taken = *f;
      m.src = residency(o).frame_address(owner_frame);
      m.dst = residency(d).frame_address(*f);
      m.from_peer = true;
      m.source = o;
      drop_entries(r, page, others, c);  // the owner's frame, freed once the copy landed
    } else if (at == nullptr && allow_remote && owner_frame < max_peer_frames &&
               backend_.can_access_peer(d, o)) {
      m.pte = make_peer_pte(o, owner_frame, pte_valid | pte_writable);
      // Stores through the peer mapping set its dirty bit, not the owner's: the owner's copy
      // counts as written from now on, so that it comes back to the host.
      device_page_table& owner_table = table_of(r, o);
      owner_table.set(page, owner_table.get(page) | pte_dirty);
      counters_.mapped_remote(d);
      record_instant(timeline_kind::remote_mapping, ref.range_id, page, 1, 0, 1, d);
    } else {
      r.pages().publish(page, s);  // retried once the kernels there end, or a frame is free
      return false;
    }
    c.moves.push_back(m);
    return true;
  }
  bool keep_others = false;  // other devices' entries stay valid alongside this one
  if (in_frame) {
    m.pte = (e & ~pte_denied) | pte_writable | written;  // a read-only duplicate: the only copy
  } else {
    // Pages pinned to the host (by pin_resident, or by thrashing) and pages advised to stay on
    // the host or to stay mapped are mapped remote on a device fault instead of moving. A
    // placement overrides all that: the raw kernel can only use a frame.
    const bool host_pinned = at == nullptr && ((w & pinned_bit) != 0 || pinned(ref));
    // A page is mapped remote only where the device reaches the range's host memory; a pinned
    // page of a range it does not reach yet stays where it is (its fault is served once the
    // range is registered).
    const bool reachable = ranges_.reachable(ref.range_id);
    // A write through a read-only remote mapping (beside other devices' duplicates) upgrades it.
    const bool stays_mapped = remote && (!write || (e & pte_writable) != 0);
    if (host_pinned && (stays_mapped || !allow_remote || !reachable)) {
      r.pages().publish(page, s);  // already mapped, or a prefetch: the page stays
      return false;
    }
    // Other devices map the host page while their kernels may use it: it stays where it is (a
    // store through their entries after the copy would be lost), and this device maps it too
    // (or waits, for a prefetch).
    const bool shared_remote = s == page_state::remote && others != 0 && kernels_running_ &&
                               epochs_.in_use_on({ref.range_id, page, 1}, others);
    if (shared_remote && (at != nullptr || !allow_remote || !reachable)) {
      r.pages().publish(page, s);
      return false;
    }
    const bool map_remote =
        reachable && (host_pinned || shared_remote ||
                      (at == nullptr && allow_remote &&
                       ((w & preferred_host_bit) != 0 ||
                        (r.device_advice().accessed_by(page) & (1u << d)) != 0)));
    if (map_remote && stays_mapped) {
      r.pages().publish(page, s);
      return false;
    }
    std::optional<std::uint32_t> f;
    if (at != nullptr) {
      residency(d).take_at(at->frame, ref);
      f = at->frame;
    } else if (!map_remote) {
      f = take_frame(d, ref);
    }
    if (!f && (!allow_remote || !reachable)) {
      r.pages().publish(page, s);
      return false;
    }
    // A read of a page other devices duplicate adds a duplicate, as read-mostly pages do.
    const bool duplicate = !write && (at != nullptr || (w & read_mostly_bit) != 0 ||
                                      (s == page_state::shared && (h.frames & ~(1u << d)) != 0));
    if (!f) {
      // No frame while a kernel runs: the device uses the host page over the bus (read-only
      // beside other devices' read-only duplicates).
      const bool read_only = duplicate && s == page_state::shared;
      m.target = read_only ? page_state::shared : page_state::remote;
      m.pte = read_only ? (pte_valid | pte_remote) : (pte_valid | pte_writable | pte_remote);
      keep_others = read_only || s == page_state::remote;
      counters_.mapped_remote(d);
      record_instant(timeline_kind::remote_mapping, ref.range_id, page, 1, 0, 0, d);
    } else {
      m.target = duplicate ? page_state::shared : page_state::device_exclusive;
      keep_others = duplicate;
      m.pte = make_pte(*f, duplicate ? pte_valid : (pte_valid | pte_writable | written));
      m.taken = *f;
      m.src = s == page_state::unpopulated ? zero_ + ((page << page_shift_) % zero_bytes_)
                                           : r.runtime_view() + (page << page_shift_);
      m.dst = residency(d).frame_address(*f);
    }
  }
  // Write-invalidate: every other copy and mapping goes first, unless this one is read-only
  // beside them.
  if (!keep_others) drop_entries(r, page, others, c);
  // Narrow the host's access before the copy reads the page; widening (to remote) can wait.
  m.widen_after = host_access_of(m.target) > host_access_of(s);
  c.moves.push_back(m);
  return true;
}

bool migrator::start_to_host(managed_range& r, std::size_t page, bool write, chunk& c,
                             bool duplicate) {
  page_word w = r.pages().load(page);
  if ((w & busy_bit) != 0 || (w & device_mapped_bit) == 0) return false;
  const page_state s = stored_state(w);
  c.reserve_one();
  if (devices_ > 1) reserve_drops(c);
  refresh_device_bits(r);  // which pages the device wrote: only those come back
  if (!r.pages().try_claim(page, w)) return false;
  // The move is the holder's: the device whose frame has the data, else the first that maps it.
  const holders h = holders_of(r, page);
  const device_id o = h.owner ? *h.owner
                              : static_cast<device_id>(std::countr_zero(
                                    h.frames != 0 ? h.frames : (h.mapped != 0 ? h.mapped : 1u)));
  const device_pte e = read_pte(r, page, o);
  move m{&r, page, s, page_state::host_exclusive};
  m.old_pte = e;
  m.device = o;
  m.widen_after = true;
  m.clear = pinned_bit;  // a device-pinned page that the host takes back is no longer pinned
  std::uint32_t others = h.mapped & ~(1u << o);
  if (pte_in_frame(e)) {
    const std::uint32_t f = pte_frame(e);
    // Only pages the device wrote come back; a clean frame still equals the host page. If the
    // device's bits could not be read, every page counts as written.
    if ((e & pte_dirty) != 0 || table_of(r, o).stale()) {
      if (o != c.device) {
        r.pages().publish(page, s);  // its data is copied by a chunk of its own device
        return false;
      }
      m.src = residency(o).frame_address(f);
      m.dst = r.runtime_view() + (page << page_shift_);
    }
    if (!write && (duplicate || (w & read_mostly_bit) != 0)) {
      m.target = page_state::shared;  // keep the device's copy, read-only on both sides
      m.pte = e & ~(pte_writable | pte_dirty);
      others &= ~h.frames;  // other read-only duplicates stay; mappings of the owner's go
    } else {
      m.freed = f;
    }
  }
  drop_entries(r, page, others, c);
  c.moves.push_back(m);
  return true;
}

int migrator::do_resolve(managed_range& r, std::size_t page, access a) noexcept {
  const std::lock_guard lock(mutex_);
  return resolve_to_host(r, page, a, true);
}

int migrator::do_try_resolve(managed_range& r, std::size_t page, access a) noexcept {
  const std::unique_lock lock(mutex_, std::try_to_lock);
  if (!lock.owns_lock()) return retry_later;  // a migration is under way: the service waits
  return resolve_to_host(r, page, a, false);
}

int migrator::resolve_to_host(managed_range& r, std::size_t page, access a, bool defer) noexcept {
  const page_word w = r.pages().load(page);
  if ((w & device_mapped_bit) == 0) return 0;  // resolved meanwhile: the access retries
  if ((w & busy_bit) != 0) return retry_later;
  // A kernel that may use the page is in flight: never move it under one. Launches that may
  // use it wait for this fault meanwhile (fairness).
  const page_use u{r.device().range_id, page, 1};
  if (epochs_.in_use(u)) {
    if (!defer) return retry_later;
    counters_.cpu_fault_deferrals.fetch_add(1, std::memory_order_relaxed);
    try {
      cpu_waiting_.push_back(u);
    } catch (...) {
    }
    return retry_later;
  }
  try {
    const std::uint64_t start = now_ns();
    chunk c(&pipe_);
    c.device = data_device(r, page);
    if (start_to_host(r, page, a == access::write, c, settings_.read_duplicates)) {
      pipe_.enqueue(c, copy_kind::device_to_host);
      std::uint64_t landed = 0;
      const int err = pipe_.complete(c, &landed);
      // Copies that outlive the timeout finish later: the fault waits for them, bounded.
      if (err == ETIMEDOUT) return retry_later;
      if (err == 0 && settings_.model != nullptr) settings_.model->cpu_fault();
      if (err == 0 && landed != 0) {
        counters_.serviced_stages.copied.record(landed - start);
        counters_.serviced_stages.opened.record(now_ns() - landed);
      }
      return err;
    }
    return 0;
  } catch (const std::exception& e) {
    log().error("moving page {} of range {} to the host failed: {}", page,
                static_cast<void*>(r.base()), e.what());
    return EIO;
  }
}

void migrator::do_resolve_device(std::span<const fault_record> batch) noexcept {
  std::lock_guard lock(mutex_);
  const cause_scope cause(pipe_, migration_cause::device_fault);
  const device_model::charge_scope charge({device_model::target::kind::device_faults});
  const std::uint64_t start = now_ns();
  kernels_running_ = true;  // the faulting kernels
  try {
    // One chunk per faulting device: its copies and entries go on that device's streams.
    std::vector<chunk> chunks;
    std::size_t n = 0;  // faulting pages served; prefetched ones are counted apart
    bool republished = false;
    std::uint32_t faulting = 0;  // bit d: device d posted records
    for (const fault_record& f : batch) {
      if (f.device < devices_) faulting |= 1u << f.device;
    }
    chunks.reserve(static_cast<std::size_t>(std::popcount(faulting)));
    for (device_id d = 0; faulting != 0; ++d, faulting >>= 1) {
      if ((faulting & 1u) != 0) resolve_on(d, batch, chunks, n, republished, start);
    }
    const std::uint64_t planned = now_ns();
    bool moved = false;
    for (chunk& c : chunks) {
      pipe_.enqueue(c, copy_kind::host_to_device);
      moved |= !c.moves.empty();
    }
    const std::uint64_t issued = now_ns();
    if (!moved && republished) (void)entries_landed();
    std::uint64_t landed = issued;
    for (chunk& c : chunks) pipe_.complete(c, &landed);
    const std::uint64_t end = now_ns();
    if (timeline_ != nullptr && n != 0) {
      timeline_->push({.start_ns = start,
                       .end_ns = end,
                       .value = stage_pair(planned - start, issued - planned),
                       .key = stage_pair(landed - issued, end - landed),
                       .count = static_cast<std::uint32_t>(n),
                       .kind = timeline_kind::device_fault_stages});
    }
    atomic_device_stages& stages = counters_.device_stages;
    for (std::size_t i = 0; i < n; ++i) {
      counters_.device.record(end - start);
      stages.planned.record(planned - start);
      stages.issued.record(issued - planned);
      stages.landed.record(landed - issued);
      stages.published.record(end - landed);
    }
  } catch (const std::exception& e) {
    log().error("serving {} device faults failed: {}", batch.size(), e.what());
  }
}

void migrator::resolve_on(device_id d, std::span<const fault_record> batch,
                          std::vector<chunk>& chunks, std::size_t& served, bool& republished,
                          std::uint64_t start) {
  chunks.emplace_back(&pipe_);
  chunk& c = chunks.back();
  c.device = d;
  const std::size_t served_before = served;
  struct count_faults {
    counters& c;
    device_id d;
    const std::size_t& served;
    std::size_t before;
    ~count_faults() { c.devices[d].faults.fetch_add(served - before, std::memory_order_relaxed); }
  } counted{counters_, d, served, served_before};
  atomic_device_stages& stages = counters_.device_stages;
  for (const fault_record& f : batch) {
    if (f.device != d) continue;
    managed_range* r = range_of(f.range_id);
    if (r == nullptr || f.page >= r->page_count()) continue;
    if ((read_pte(*r, f.page, d) & (pte_valid | pte_writable)) == (pte_valid | pte_writable)) {
      // The entry serves every access (or will once it lands): a record already served (lanes
      // post again after 2 ms), perhaps of a kernel that has ended. Nothing to publish: the
      // device's copy of the entry may hold a dirty bit that the shadow has not seen, and
      // publishing the shadow's (denied or not) would lose it, and the page's stores with it.
      continue;
    }
    if (!epochs_.in_use_on({f.range_id, f.page, 1}, 1u << d)) {
      // No kernel in flight on this device may use the page (attached to the host or to another
      // stream, or outside what the launches declared): the lanes report it instead of waiting.
      // Another device's kernel that may use it does not count: the page would move to a device
      // whose kernels may not touch it, away from the one whose kernels may.
      deny(*r, f.page, d);
      republished = true;
      continue;
    }
    if (!start_to_device(*r, f.page, d, f.access == device_access::write, true, c)) {
      // Not moved: busy (retried next turn, so its lanes need not post again), or already
      // served. A served read-only entry is published again to clear the fault-pending bit a
      // lane may have set after it landed (a later write fault must be able to post); a
      // writable one is not: a kernel's dirty bit in it would be overwritten.
      const page_word w = r->pages().load(f.page);
      if ((w & busy_bit) != 0) {
        device_retry_.push_back(f);
      } else if ((read_pte(*r, f.page, d) & (pte_valid | pte_writable)) == pte_valid) {
        table_of(*r, d).publish(f.page, 1, pipe_.h2d(d));
        republished = true;
      } else if (stored_state(w) == page_state::device_exclusive) {
        device_retry_.push_back(f);  // held by another device's kernels, with no peer path
      }
      continue;
    }
    ++served;
    if (settings_.model != nullptr) {
      // A device advised to access the page, which maps it where it lives, takes no fault on a
      // GPU (the driver maps it at the advice): the model charges none.
      const bool advised_mapping = !c.moves.empty() && c.moves.back().range == r &&
                                   c.moves.back().page == f.page &&
                                   (c.moves.back().pte & (pte_remote | pte_peer)) != 0 &&
                                   (r->device_advice().accessed_by(f.page) & (1u << d)) != 0;
      if (!advised_mapping) settings_.model->device_fault(d, f.range_id, f.page);
    }
    // Where the device's clock is the host's, how long the record waited for its batch.
    if (host_clock_ && f.time_ns <= start) {
      stages.queued.record(start - f.time_ns);
    }
    expand_fault(*r, f.page, d, c);
  }
}

std::size_t migrator::evict(device_id d, std::size_t frames, bool unused_only) {
  UVM_NVTX_RANGE("evict", frames * settings_.page_size);
  const cause_scope cause(pipe_, migration_cause::eviction);
  chunk c(&pipe_);
  c.device = d;
  device_residency& residency = this->residency(d);
  std::size_t freed = 0;
  while (freed < frames) {
    const std::optional<page_ref> victim = residency.victim(unused_only);
    if (!victim) break;
    managed_range* r = range_of(victim->range_id);
    if (r == nullptr) {
      residency.unranked(*victim);  // its range is gone
      continue;
    }
    // A victim outside its range, without a frame, or pinned to the device (an application's
    // policy got it wrong; the shipped ones never name such pages): evict nothing more.
    if (victim->page >= r->page_count() || (r->pages().load(victim->page) & pinned_bit) != 0 ||
        !pte_in_frame(read_pte(*r, victim->page, d))) {
      break;
    }
    // Kernels on other devices run meanwhile: one that may use the victim may be storing to its
    // frame through a peer mapping. It stays (and so does the rest, this time).
    if (devices_ > 1 && epochs_.in_use_on({victim->range_id, victim->page, 1},
                                          holders_of(*r, victim->page).mapped & ~(1u << d))) {
      break;
    }
    // A victim that is busy now stays the victim; evicting fewer frames this time is fine.
    if (!start_to_host(*r, victim->page, true, c)) break;
    residency.evicting(*victim);  // planned: the policy must offer the next page
    ++freed;
  }
  pipe_.enqueue(c, copy_kind::device_to_host);
  pipe_.complete(c);
  counters_.evictions.fetch_add(freed, std::memory_order_relaxed);
  counters_.devices[d].evictions.fetch_add(freed, std::memory_order_relaxed);
  return freed;
}

std::size_t migrator::prefetch(managed_range& r, std::size_t first, std::size_t count,
                               bool to_device, const queue_position& at, device_id device,
                               in_flight_move* in_flight) {
  UVM_NVTX_RANGE(to_device ? "prefetch to device" : "prefetch to host",
                 count * settings_.page_size);
  std::unique_lock lock(mutex_);
  const cause_scope cause(pipe_, migration_cause::prefetch);
  const page_use span = pages_of(r, first, count);
  settle_in_flight(&span);  // a move of these pages left copying ends first
  // Pages come back only when no kernel that may use them runs.
  if (!to_device) {
    wait_until_unused(lock, span, at, "uvm::manager::prefetch to the host");
  }
  const moving_scope moving(*this, at.stream);  // the lock is held from here on
  // Kernels that may run during the move: frames are not reclaimed and remote pages not moved
  // under them. A queued move's own stream runs none now (its earlier work has finished, its
  // later kernels wait behind its gate), so a prefetch followed by a launch on its stream still
  // makes room. None start elsewhere while the lock is held.
  const auto may_run = [&](std::optional<device_id> on = std::nullopt) {
    (void)kernels_in_flight();  // harvests an epoch that ended
    return epochs_.running_besides(at.stream, on);
  };
  kernels_running_ = may_run();
  r.pages().set_flag(first, count, prefetched_host_bit | prefetched_device_bit, false);
  if (to_device) r.device_advice().prefetched_to(first, count, static_cast<std::uint8_t>(device));
  r.pages().set_flag(first, count, to_device ? prefetched_device_bit : prefetched_host_bit, true);
  std::size_t moved = 0;
  chunk last(&pipe_);  // with `in_flight`: the last chunk, its copies in flight (undone if thrown)
  if (to_device) {
    device_residency& residency = this->residency(device);
    moved = pipe_.run(
        count, copy_kind::host_to_device, device,
        [&](std::size_t i, std::size_t end) {
          // Frames change hands while no kernel of this device runs (other devices' kernels do
          // not use them, except through peer mappings of pages evict() leaves alone).
          if (residency.free_count() < end - i && !may_run(device)) {
            evict(device, end - i - residency.free_count());
          }
        },
        [&](std::size_t i, chunk& c) {
          return start_to_device(r, first + i, device, false, false, c);
        },
        in_flight != nullptr ? &last : nullptr);
  } else {
    // A pass per device: each copies back the pages whose data its frames hold.
    for (device_id d = 0; d < devices_; ++d) {
      moved += pipe_.run(
          count, copy_kind::device_to_host, d, [](std::size_t, std::size_t) {},
          [&](std::size_t i, chunk& c) { return start_to_host(r, first + i, true, c); },
          in_flight != nullptr && d + 1 == devices_ ? &last : nullptr);
    }
  }
  if (!last.moves.empty()) {
    in_flight_.push_back({next_in_flight_, at.stream, chunk(&pipe_)});
    in_flight_.back().moves.swap(last);
    *in_flight = {next_in_flight_++, in_flight_.back().moves.done};
  }
  counters_.prefetched_pages.fetch_add(moved, std::memory_order_relaxed);
  return moved;
}

void migrator::complete_in_flight(in_flight_chunk& f) noexcept {
  if (f.moves.moves.empty()) return;
  // Frames it frees wait for no kernel of its own stream: those are behind its closed gate.
  const moving_scope moving(*this, f.on);
  try {
    (void)pipe_.complete(f.moves);  // empties it, or keeps it stalled in the pipeline
  } catch (const std::exception& e) {
    log().error("finishing the last pages of a prefetch failed: {}", e.what());
  }
}

void migrator::settle_in_flight(const page_use* pages) noexcept {
  for (in_flight_chunk& f : in_flight_) {
    if (pages == nullptr ||
        std::any_of(f.moves.moves.begin(), f.moves.moves.end(), [pages](const move& m) {
          return m.range->device().range_id == pages->range && m.page >= pages->first &&
                 m.page < pages->first + pages->count;
        })) {
      complete_in_flight(f);
    }
  }
}

void migrator::finish_in_flight(const in_flight_move& m) noexcept {
  const std::lock_guard lock(mutex_);
  const auto it = std::find_if(in_flight_.begin(), in_flight_.end(),
                               [&](const in_flight_chunk& f) { return f.id == m.id; });
  if (it == in_flight_.end()) return;
  complete_in_flight(*it);
  in_flight_.erase(it);  // what is left in it is undone
}

bool migrator::start_discard(managed_range& r, std::size_t page, chunk& c) {
  page_word w = r.pages().load(page);
  const page_state s = stored_state(w);
  if ((w & device_mapped_bit) == 0) {
    // Only on the host: zeroed in place, in its state (its app view stays as it is).
    if (s == page_state::unpopulated) return false;
    return r.fill_in_place(page, w, [&](page_state) {
      std::memset(r.runtime_view() + (page << page_shift_), 0, r.page_size());
      return true;
    });
  }
  c.reserve_one();
  if (devices_ > 1) reserve_drops(c);
  if (!r.pages().try_claim(page, w)) return false;
  // The devices' copies are dropped without a copy back; the host's is zeroed (when enqueued).
  const holders h = holders_of(r, page);
  const auto o = static_cast<device_id>(std::countr_zero(h.mapped != 0 ? h.mapped : 1u));
  move m{&r, page, s, page_state::unpopulated};
  m.old_pte = read_pte(r, page, o);
  m.device = o;
  m.pte = 0;
  m.clear = prefetched_host_bit | prefetched_device_bit;
  if (pte_in_frame(m.old_pte)) m.freed = pte_frame(m.old_pte);
  if ((m.old_pte & pte_remote) != 0) {
    counters_.mapped_remote(o, -1);
  }
  drop_entries(r, page, h.mapped & ~(1u << o), c);
  c.moves.push_back(m);
  return true;
}

std::size_t migrator::discard(managed_range& r, std::size_t first, std::size_t count,
                              const queue_position& at) {
  UVM_NVTX_RANGE("discard", count * settings_.page_size);
  std::unique_lock lock(mutex_);
  const cause_scope cause(pipe_, migration_cause::discard);
  for (std::size_t p = first; p < first + count; ++p) {
    UVM_EXPECTS((r.pages().load(p) & pinned_bit) == 0 &&
                    !pin_held({r.device().range_id, static_cast<std::uint32_t>(p)}),
                "uvm::manager::discard: page {} of range {} is pinned (pin_resident); unpin it "
                "first (nothing was discarded)",
                p, static_cast<void*>(r.base()));
  }
  const page_use span = pages_of(r, first, count);
  settle_in_flight(&span);  // a move of these pages left copying ends first
  wait_until_unused(lock, span, at, "uvm::manager::discard");
  std::optional<moving_scope> moving(std::in_place, *this, at.stream);
  const std::uint64_t deadline = now_ns() + static_cast<std::uint64_t>(settings_.timeout.count());
  std::size_t dropped = 0;
  // Busy pages (a transition under way) are discarded once it ends, bounded by the timeout;
  // pages already discarded hold no data and are skipped.
  for (;;) {
    std::size_t busy = 0;
    dropped += pipe_.run(
        count, copy_kind::device_to_host, 0, [](std::size_t, std::size_t) {},
        [&](std::size_t i, chunk& c) {
          if ((r.pages().load(first + i) & busy_bit) != 0) {
            ++busy;
            return false;
          }
          return start_discard(r, first + i, c);
        });
    if (busy == 0) break;
    if (now_ns() >= deadline) {
      throw uvm::timeout(fmt::format(
          "uvm::manager::discard: {} pages of range {} stayed busy (being moved) for the fault "
          "timeout; the other pages were discarded",
          busy, static_cast<void*>(r.base())));
    }
    moving.reset();  // another thread's move may run meanwhile
    lock.unlock();
    std::this_thread::sleep_for(std::chrono::microseconds(100));
    lock.lock();
    moving.emplace(*this, at.stream);
  }
  counters_.discarded_pages.fetch_add(dropped, std::memory_order_relaxed);
  return dropped;
}

}  // namespace uvm::detail
