#include "host/coherence/managed_range.hpp"

#include "host/common/clock.hpp"
#include "host/common/futex.hpp"
#include "host/fault/service/fault_request.hpp"
#include "host/fault/service/fault_service.hpp"
#include "host/fault/service/map_budget.hpp"
#include "host/memory/view_protection.hpp"
#include "host/telemetry/counters.hpp"
#include "host/telemetry/event_ring.hpp"
#include "host/telemetry/timeline.hpp"
#include "host/telemetry/trace_writer.hpp"

#include <algorithm>
#include <array>
#include <bit>
#include <cerrno>

#include <sched.h>

#include <sys/syscall.h>
#include <unistd.h>

namespace uvm::detail {

using status = managed_range::fault_outcome::status;

namespace {
std::atomic<std::uint64_t> g_next_serial{1};
// How long a thread whose fault went to the service polls for its completion before sleeping.
constexpr std::chrono::microseconds service_poll{100};
}  // namespace

managed_range::managed_range(const fault_context& ctx, std::size_t bytes, std::size_t page_size)
    : ctx_(ctx),
      memory_((bytes + page_size - 1) / page_size * page_size, page_size,
              !ctx.source->splits_mappings()),
      pages_((bytes + page_size - 1) / page_size),
      advice_(pages_.size()),
      size_(bytes),
      page_shift_(static_cast<unsigned>(std::countr_zero(page_size))),
      serial_(g_next_serial.fetch_add(1, std::memory_order_relaxed)) {
  ctx_.source->attach(memory_.app(), memory_.size());
}

page_word managed_range::heal(const void* addr, page_word seen) noexcept {
  const std::size_t page = page_of(addr);
  page_word w = seen;
  if ((w & busy_bit) != 0 || !pages_.try_claim(page, w)) return 0;
  // The state, and so the boundary estimate, is unchanged: only the protection is re-applied.
  const page_state s = stored_state(w);
  (void)ctx_.source->protect(view_of(page, 1), host_access_of(s), host_access_of(s));
  pages_.publish(page, s);
  return pages_.load(page);
}

managed_range::~managed_range() {
  map_budget::process().charge(-boundaries());
}

std::int64_t managed_range::boundary_delta(std::size_t first, std::size_t count, host_access from,
                                           host_access to) const noexcept {
  // The run is uniform before and after, so only its two edges can change. Only boundaries
  // inside the range count: its ends border other mappings anyway.
  std::int64_t d = 0;
  auto edge = [&](std::size_t q) {
    const host_access n = access_at(q);
    d += static_cast<int>(n != to) - static_cast<int>(n != from);
  };
  if (first > 0) edge(first - 1);
  if (first + count < page_count()) edge(first + count);
  return d;
}

void managed_range::record_access(std::size_t page, access a) const noexcept {
  if (ctx_.trace == nullptr) return;
  ctx_.trace->push({trace_kind::cpu_access, static_cast<std::uint8_t>(a == access::write), 0,
                    device_.range_id, static_cast<std::uint32_t>(page), 0});
}

void managed_range::record_fault(std::uint8_t kind, std::size_t page, access a, std::uint64_t start,
                                 std::uint32_t tid, const fault_request* served) const noexcept {
  if (ctx_.run_timeline == nullptr) return;
  if (tid == 0) tid = static_cast<std::uint32_t>(syscall(SYS_gettid));  // async-signal-safe
  const std::uint64_t end = now_ns();
  std::uint64_t stages = 0;
  std::uint64_t more = 0;
  if (served != nullptr && served->completed_ns != 0) {
    stages =
        stage_pair(served->taken_ns - served->posted_ns, served->started_ns - served->taken_ns);
    more = stage_pair(served->completed_ns - served->started_ns, end - served->completed_ns);
  }
  ctx_.run_timeline->push({.start_ns = start,
                           .end_ns = end,
                           .value = stages,
                           .key = more,
                           .tid = tid,
                           .range_id = device_.range_id,
                           .page = static_cast<std::uint32_t>(page),
                           .kind = timeline_kind::cpu_fault,
                           .detail = kind,
                           .flags = static_cast<std::uint8_t>(a == access::write)});
}

managed_range::fault_outcome managed_range::on_cpu_fault(const void* addr, access a,
                                                         fault_request& slot,
                                                         std::uint32_t tid) noexcept {
  const std::uint64_t start = now_ns();
  const std::size_t page = page_of(addr);
  const auto outcome = [&](cpu_fault_kind k, fault_outcome o) {
    record_fault(static_cast<std::uint8_t>(k), page, a, start, tid,
                 k == cpu_fault_kind::serviced ? &slot : nullptr);
    return o;
  };
  timespec deadline{};
  bool waited = false;
  for (;;) {
    page_word w = pages_.load(page);
    const cpu_decision d = decide_cpu_fault(w, a);
    switch (d.action) {
      case cpu_action::retry:
        if (waited) {
          ctx_.stats->waited.record(now_ns() - start);
          record_access(page, a);
          return outcome(cpu_fault_kind::waited, {status::resolved, 0, w});
        }
        ctx_.stats->spurious_faults.fetch_add(1, std::memory_order_relaxed);
        return outcome(cpu_fault_kind::spurious, {status::spurious, 0, w});
      case cpu_action::first_touch:
      case cpu_action::upgrade: {
        if (!pages_.try_claim(page, w)) continue;
        const fault_outcome o = commit(page, w, d.target);
        const cpu_fault_kind k = waited                                ? cpu_fault_kind::waited
                                 : d.action == cpu_action::first_touch ? cpu_fault_kind::first_touch
                                                                       : cpu_fault_kind::upgrade;
        if (o.st == status::resolved) {
          atomic_fault_stats& kind = k == cpu_fault_kind::waited        ? ctx_.stats->waited
                                     : k == cpu_fault_kind::first_touch ? ctx_.stats->first_touch
                                                                        : ctx_.stats->upgrade;
          kind.record(now_ns() - start);
          record_access(page, a);
        }
        return outcome(o.st == status::resolved ? k : cpu_fault_kind::failed, o);
      }
      case cpu_action::wait:
        if (!waited) deadline = deadline_after(ctx_.timeout);
        waited = true;
        if (!pages_.wait_until_idle(page, deadline)) {
          return outcome(cpu_fault_kind::timed_out,
                         {status::timed_out, ETIMEDOUT, pages_.load(page)});
        }
        continue;
      case cpu_action::service: {
        if (!waited) deadline = deadline_after(ctx_.timeout);
        const fault_outcome o = serve(page, a, deadline, slot);
        if (o.st == status::resolved) {
          ctx_.stats->serviced.record(now_ns() - start);
          record_access(page, a);
        }
        return outcome(o.st == status::resolved    ? cpu_fault_kind::serviced
                       : o.st == status::timed_out ? cpu_fault_kind::timed_out
                                                   : cpu_fault_kind::failed,
                       o);
      }
    }
  }
}

int managed_range::set_access(std::size_t first, std::size_t count, page_state from, page_state to,
                              bool strict) noexcept {
  const host_access old_access = host_access_of(from);
  const host_access new_access = host_access_of(to);
  if (old_access == new_access) return 0;
  if (!ctx_.source->splits_mappings()) {
    return ctx_.source->protect(view_of(first, count), old_access, new_access);
  }
  map_budget& budget = map_budget::process();
  const std::int64_t delta = boundary_delta(first, count, old_access, new_access);
  if (!budget.try_charge(delta)) {
    if (strict) return over_budget;
    budget.charge(delta);  // mprotect has the last word
  }
  const int err = ctx_.source->protect(view_of(first, count), old_access, new_access);
  if (err != 0) {
    budget.charge(-delta);
    return err;
  }
  boundaries_.fetch_add(delta, std::memory_order_relaxed);
  return 0;
}

managed_range::fault_outcome managed_range::commit(std::size_t page, page_word claimed,
                                                   page_state target) noexcept {
  const page_state from = stored_state(claimed);
  bool coarsened = false;
  const int err = widen(page, 1, from, target, from == page_state::unpopulated, coarsened);
  if (err != 0) {
    pages_.publish(page, from);
    return {status::failed, err, claimed};
  }
  pages_.publish(page, coarsened ? page_state::host_exclusive : target);
  return {status::resolved, 0, claimed};
}

int managed_range::widen(std::size_t first, std::size_t count, page_state from, page_state to,
                         bool read_may_coarsen, bool& coarsened) noexcept {
  coarsened = false;
  // Near the mapping limit a change that opens the view coarsens instead: the block around the
  // run becomes read-write as one mapping. A read-only target may coarsen too when no device
  // holds a copy (a read first touch): read-write is then simply more than was asked for.
  const bool can_coarsen = host_access_of(to) == host_access::read_write ||
                           (host_access_of(to) == host_access::read && read_may_coarsen);
  const int err = set_access(first, count, from, to, can_coarsen);
  if (err == 0 || !can_coarsen || (err != over_budget && err != ENOMEM)) {
    return err == over_budget ? ENOMEM : err;
  }
  const int c = coarsen(first, count, from);
  coarsened = c == 0;
  return c;
}

int managed_range::coarsen(std::size_t first, std::size_t count, page_state from) noexcept {
  // Make every host-side page of the blocks around the claimed run [first, first + count)
  // host_exclusive with one mprotect, so they become one mapping. Neighbours are claimed without
  // waiting (waiting while holding a claim could deadlock with another coarsening thread); a
  // busy or device-held neighbour ends the extension. The caller publishes its own run.
  const std::size_t per_block = std::max<std::size_t>(1, block_bytes >> page_shift_);
  const std::size_t b0 = first - first % per_block;
  const std::size_t last = first + count - 1;
  const std::size_t b1 = std::min(last - last % per_block + per_block, page_count());
  constexpr std::size_t max_side = block_bytes >> 12;
  std::array<page_state, max_side> below{};  // old states of the claimed neighbours
  std::array<page_state, max_side> above{};
  auto host_side = [](page_word w) {
    const page_state s = stored_state(w);
    return (w & device_mapped_bit) == 0 &&
           (s == page_state::unpopulated || s == page_state::shared ||
            s == page_state::host_exclusive);
  };
  std::size_t lo = first;
  while (lo > b0) {
    page_word w = pages_.load(lo - 1);
    if ((w & busy_bit) != 0 || !host_side(w) || !pages_.try_claim(lo - 1, w)) break;
    --lo;
    below[first - 1 - lo] = stored_state(w);
  }
  std::size_t hi = first + count;
  while (hi < b1) {
    page_word w = pages_.load(hi);
    if ((w & busy_bit) != 0 || !host_side(w) || !pages_.try_claim(hi, w)) break;
    above[hi - first - count] = stored_state(w);
    ++hi;
  }
  auto old_state = [&](std::size_t i) {
    return i < first ? below[first - 1 - i] : i >= first + count ? above[i - first - count] : from;
  };

  // Boundaries among pages [lo - 1, hi] before and after [lo, hi) becomes read-write.
  const std::size_t e0 = lo > 0 ? lo - 1 : lo;
  const std::size_t e1 = std::min(hi, page_count() - 1);
  auto access_before = [&](std::size_t i) {
    return i >= lo && i < hi ? host_access_of(old_state(i)) : access_at(i);
  };
  auto access_after = [&](std::size_t i) {
    return i >= lo && i < hi ? host_access::read_write : access_at(i);
  };
  std::int64_t delta = 0;
  for (std::size_t i = e0; i < e1; ++i) {
    delta += static_cast<int>(access_after(i) != access_after(i + 1)) -
             static_cast<int>(access_before(i) != access_before(i + 1));
  }

  // The neighbours' old accesses differ; read-write over the whole run is the same change for
  // every mechanism that splits mappings (the only ones that coarsen).
  const int err =
      ctx_.source->protect(view_of(lo, hi - lo), host_access::none, host_access::read_write);
  for (std::size_t i = lo; i < hi; ++i) {
    if (i >= first && i < first + count) continue;
    pages_.publish(i, err == 0 ? page_state::host_exclusive : old_state(i));
  }
  if (err != 0) return err;
  map_budget::process().charge(delta);
  boundaries_.fetch_add(delta, std::memory_order_relaxed);
  ctx_.stats->coarsened_blocks.fetch_add(1, std::memory_order_relaxed);
  ctx_.events->push({event_kind::coarsened, reinterpret_cast<std::uintptr_t>(page_address(lo)),
                     (hi - lo) << page_shift_, now_ns()});
  return 0;
}

managed_range::fault_outcome managed_range::serve(std::size_t page, access a,
                                                  const timespec& deadline,
                                                  fault_request& req) noexcept {
  if (ctx_.service == nullptr) return {status::failed, ENODEV, pages_.load(page)};
  req.range = this;
  req.gate = gate_;
  req.page = page;
  req.kind = a;
  req.error = 0;
  req.taken_ns = req.started_ns = req.completed_ns = 0;
  req.posted_ns = now_ns();
  req.status.store(fault_request::pending, std::memory_order_relaxed);
  // A handler on a thread of its own resolves what needs no waiting itself; the rest (and every
  // fault caught in a signal handler) goes to the service thread.
  const bool here = !ctx_.source->handles_in_signal_handler() && ctx_.service->serve_here(req);
  while (!here && !ctx_.service->submit(req)) {
    if (passed(deadline)) return {status::timed_out, ETIMEDOUT, pages_.load(page)};
    sched_yield();
  }
  // Poll for a while before sleeping: the service usually completes a request within tens of
  // microseconds. Not while kernels run: the CPUs are theirs, and the poll would slow the
  // service it waits for.
  if (!ctx_.service->kernels_in_flight()) {
    (void)poll_for(service_poll, [&] {
      return req.status.load(std::memory_order_acquire) != fault_request::pending;
    });
  }
  std::uint32_t s;
  while ((s = req.status.load(std::memory_order_acquire)) == fault_request::pending) {
    if (!futex_wait_until(req.status, fault_request::pending, deadline)) {
      return {status::timed_out, ETIMEDOUT, pages_.load(page)};
    }
  }
  if (s == fault_request::failed) return {status::failed, req.error, pages_.load(page)};
  if (req.completed_ns != 0) {  // where the time went (stats::serviced_stages)
    atomic_cpu_stages& st = ctx_.stats->serviced_stages;
    st.queued.record(req.taken_ns - req.posted_ns);
    st.waited.record(req.started_ns - req.taken_ns);
    st.woken.record(now_ns() - req.completed_ns);
  }
  return {status::resolved, 0, pages_.load(page)};
}

void managed_range::advise(std::size_t first, std::size_t count, advice a,
                           location where) noexcept {
  const auto device = static_cast<std::uint8_t>(where.is_device() ? where.device_index : 0);
  switch (a) {
    case advice::set_read_mostly:
    case advice::unset_read_mostly:
      pages_.set_flag(first, count, read_mostly_bit, a == advice::set_read_mostly);
      break;
    case advice::set_preferred_location:
    case advice::unset_preferred_location:
      pages_.set_flag(first, count, preferred_host_bit | preferred_device_bit, false);
      if (a == advice::set_preferred_location) {
        if (where.is_device()) advice_.prefer(first, count, device);  // before the bit says so
        pages_.set_flag(first, count, where.is_device() ? preferred_device_bit : preferred_host_bit,
                        true);
      }
      break;
    case advice::set_accessed_by:
    case advice::unset_accessed_by:
      advice_.access_by(first, count, device, a == advice::set_accessed_by);
      break;
  }
}

range_attributes managed_range::attributes(std::size_t first, std::size_t count) const noexcept {
  page_word all = ~page_word{0};  // bits every page has
  std::uint8_t accessed = 0xff;   // devices every page is accessed by
  for (std::size_t p = first; p < first + count; ++p) {
    all &= pages_.load(p);
    accessed &= advice_.accessed_by(p);
  }
  // The device every page names, if they agree.
  const auto agreed = [&](std::uint8_t (page_advice::*of)(std::size_t)
                              const noexcept) -> std::optional<location> {
    const std::uint8_t d = (advice_.*of)(first);
    for (std::size_t p = first + 1; p < first + count; ++p) {
      if ((advice_.*of)(p) != d) return std::nullopt;
    }
    return location::device(d);
  };
  range_attributes out;
  out.read_mostly = (all & read_mostly_bit) != 0;
  out.accessed_by_devices = accessed;
  out.accessed_by_device = accessed != 0;
  out.pinned = (all & pinned_bit) != 0;
  if ((all & preferred_host_bit) != 0) out.preferred_location = location::host();
  if ((all & preferred_device_bit) != 0) out.preferred_location = agreed(&page_advice::preferred);
  if ((all & prefetched_host_bit) != 0) out.last_prefetch_location = location::host();
  if ((all & prefetched_device_bit) != 0) {
    out.last_prefetch_location = agreed(&page_advice::prefetched);
  }
  return out;
}

}  // namespace uvm::detail
