#include "host/migration/transfer_pipeline.hpp"

#include "host/common/clock.hpp"
#include "host/migration/copy_batcher.hpp"
#include "host/telemetry/log.hpp"
#include "host/telemetry/nvtx.hpp"

#include <uvm/error.hpp>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>

#include <sched.h>

namespace uvm::detail {

namespace {

// Runs fn(i, j) over the runs [i, j) of moves (in page order) whose host access changes before
// the copy (!widen) or after it (widen): neighbours with the same change share one mprotect.
template <class Fn>
void for_each_access_run(const std::vector<transfer_pipeline::move>& moves, bool widen, Fn&& fn) {
  std::size_t i = 0;
  while (i < moves.size()) {
    const transfer_pipeline::move& m = moves[i];
    std::size_t j = i + 1;
    if (m.widen_after == widen) {
      while (j < moves.size() && moves[j].widen_after == widen && moves[j].range == m.range &&
             moves[j].page == moves[j - 1].page + 1 && moves[j].from == m.from &&
             moves[j].target == m.target) {
        ++j;
      }
      fn(i, j);
    }
    i = j;
  }
}

}  // namespace

transfer_pipeline::transfer_pipeline(backend& b, counters& c, range_table& ranges, settler& s,
                                     const settings& set)
    : backend_(b), counters_(c), ranges_(ranges), settler_(s), settings_(set) {
  for (device_id d = 0; d < ranges.devices(); ++d) {
    streams_.push_back({b.create_stream("h2d", d), b.create_stream("d2h", d)});
    if (settings_.run_timeline != nullptr) {
      const std::string suffix = d == 0 ? std::string() : fmt::format("-{}", d);
      settings_.run_timeline->name_stream(streams_[d].h2d.get(), "uvm-h2d" + suffix);
      settings_.run_timeline->name_stream(streams_[d].d2h.get(), "uvm-d2h" + suffix);
    }
  }
}

void transfer_pipeline::record_migration(const chunk& c) noexcept {
  if (settings_.run_timeline == nullptr || c.issued.start_ns == 0) return;
  timeline_event e = c.issued;
  e.end_ns = now_ns();
  settings_.run_timeline->push(e);
}

void transfer_pipeline::charge_model(const chunk& c, copy_kind kind) {
  std::vector<modelled_move> moved;
  moved.reserve(c.moves.size());
  for (const move& m : c.moves) {
    if (m.src == nullptr) continue;
    const copy_direction dir = kind == copy_kind::device_to_host ? copy_direction::device_to_host
                               : m.from_peer                     ? copy_direction::device_to_device
                                                                 : copy_direction::host_to_device;
    moved.push_back({m.range->device().range_id, m.page, dir, c.device});
  }
  settings_.model->moved(device_model::current(), moved);
}

void transfer_pipeline::enqueue(chunk& c, copy_kind kind) {
  const stream& s = kind == copy_kind::host_to_device ? h2d(c.device) : d2h(c.device);
  // Page order lets neighbours share an mprotect and a copy (prefetched pages arrive unsorted;
  // a prefetch's are sorted already).
  const auto page_order = [](const move& a, const move& b) {
    return a.range != b.range ? a.range < b.range : a.page < b.page;
  };
  if (!std::is_sorted(c.moves.begin(), c.moves.end(), page_order)) {
    std::sort(c.moves.begin(), c.moves.end(), page_order);
  }
  // 1. Narrow host access first, so no CPU store can race the copies that read the pages.
  std::vector<bool> cancelled(c.moves.size(), false);
  for_each_access_run(c.moves, false, [&](std::size_t i, std::size_t j) {
    const move& m = c.moves[i];
    const int err = m.range->set_access(m.page, j - i, m.from, m.target, false);
    if (err == 0) return;
    log().error("mprotect of pages {}..{} of range {} failed: {}; they stay where they are", m.page,
                m.page + (j - i) - 1, static_cast<void*>(m.range->base()), std::strerror(err));
    for (std::size_t k = i; k < j; ++k) cancelled[k] = true;
  });
  std::size_t kept = 0;
  for (std::size_t k = 0; k < c.moves.size(); ++k) {
    const move& m = c.moves[k];
    if (!cancelled[k]) {
      c.moves[kept++] = m;
      continue;
    }
    std::erase_if(c.drops, [&](const drop& d) { return d.range == m.range && d.page == m.page; });
    if (m.taken) settler_.untaken(m.device, *m.taken);  // never announced to the policy
    if ((m.pte & (pte_remote | pte_peer)) != 0) counters_.mapped_remote(m.device, -1);
    m.range->pages().publish(m.page, m.from);
  }
  c.moves.resize(kept);
  c.st = chunk::stage::narrowed;
  if (c.moves.empty()) return;
  // Discarded pages read as zeros from now on. Zeroed in place, not released: the runtime view
  // is registered (pinned) for the device, and a released page would stay pinned under it.
  for (const move& m : c.moves) {
    if (m.target == page_state::unpopulated) {
      std::memset(m.range->runtime_view() + m.page * m.range->page_size(), 0, m.range->page_size());
    }
  }

  // 2. The data, coalesced; 3. the page-table entries, after it on the same stream. From here a
  // throw (a failed device call) unwinds through the chunk, which undoes every move. Other
  // devices' copies and mappings of the pages go first.
  c.on = &s;
  c.st = chunk::stage::issued;
  if (!c.drops.empty()) invalidate(c);
  timeline* const tl = settings_.run_timeline;
  const std::uint64_t issue_ns = tl != nullptr ? now_ns() : 0;
  UVM_NVTX_RANGE(kind == copy_kind::host_to_device ? "migrate to device" : "migrate to host",
                 c.moves.size() * settings_.page_size);
  copy_batcher copies(backend_, kind);
  copy_batcher peer_copies(backend_, copy_kind::device_to_device);
  // Bytes by device, added to the counters once per chunk: host side (into the device for h2d,
  // out of it for d2h), from other devices, to other devices.
  std::array<std::array<std::uint64_t, 3>, max_devices> moved{};
  for (const move& m : c.moves) {
    if (m.src == nullptr) continue;
    const std::size_t page = m.range->page_size();
    (m.from_peer ? peer_copies : copies).add(m.dst, m.src, page, s);
    if (m.from_peer) {
      moved[m.device][1] += page;
      moved[m.source][2] += page;
      // Per link, counted per page: only device-to-device moves pay for it.
      counters_.devices[m.device].from_device[m.source].fetch_add(page, std::memory_order_relaxed);
    } else {
      moved[m.device][0] += page;
    }
  }
  copies.flush(s);
  peer_copies.flush(s);
  if (settings_.model != nullptr) charge_model(c, kind);
  for (std::size_t d = 0; d < moved.size(); ++d) {
    counters::per_device& on = counters_.devices[d];
    if (moved[d][0] != 0) {
      (kind == copy_kind::host_to_device ? on.bytes_from_host : on.bytes_to_host)
          .fetch_add(moved[d][0], std::memory_order_relaxed);
    }
    if (moved[d][1] != 0) on.bytes_from_devices.fetch_add(moved[d][1], std::memory_order_relaxed);
    if (moved[d][2] != 0) on.bytes_to_devices.fetch_add(moved[d][2], std::memory_order_relaxed);
  }
  auto& bytes = kind == copy_kind::host_to_device ? counters_.bytes_host_to_device
                                                  : counters_.bytes_device_to_host;
  bytes.fetch_add(copies.total(), std::memory_order_relaxed);
  counters_.bytes_device_to_device.fetch_add(peer_copies.total(), std::memory_order_relaxed);
  // On the timeline: chunks that copy, and evictions and discards even when nothing is copied
  // (pages mapped remote copy nothing: they are instants of their own).
  if (tl != nullptr &&
      (copies.total() + peer_copies.total() != 0 || cause_ == migration_cause::eviction ||
       cause_ == migration_cause::discard)) {
    const move& first = c.moves.front();
    const bool many = first.range != c.moves.back().range;
    c.issued = {.start_ns = issue_ns,
                .value = copies.total() + peer_copies.total(),
                .key = peer_copies.total(),
                .range_id = first.range->device().range_id,
                .page = static_cast<std::uint32_t>(first.page),
                .count = static_cast<std::uint32_t>(c.moves.size()),
                .kind = timeline_kind::migration,
                .detail = static_cast<std::uint8_t>(cause_),
                .flags = static_cast<std::uint8_t>(
                    (kind == copy_kind::host_to_device ? to_device_flag : 0) |
                    (many ? many_ranges_flag : 0)),
                .device = static_cast<std::uint8_t>(c.device)};
  }
  for (const move& m : c.moves) {
    ranges_.table(m.range->device().range_id, m.device).set(m.page, m.pte);
  }
  publish_entries(c.moves, 0, c.moves.size(), s, &c.entries);
  c.done = backend_.record(s);
}

void transfer_pipeline::invalidate(chunk& c) {
  std::uint32_t devices = 0;  // bit d: an entry of device d was published
  for (const drop& d : c.drops) {
    device_page_table& t = ranges_.table(d.range->device().range_id, d.device);
    t.set(d.page, 0);
    t.publish(d.page, 1, h2d(d.device));
    devices |= 1u << d.device;
  }
  for (device_id d = 0; devices != 0; ++d, devices >>= 1) {
    if ((devices & 1u) != 0 && !backend_.wait(backend_.record(h2d(d)), settings_.timeout)) {
      throw uvm::timeout(fmt::format(
          "invalidating device {}'s copies of {} pages did not complete within the fault timeout",
          d, c.drops.size()));
    }
  }
}

void transfer_pipeline::restore(std::span<const drop> drops) noexcept {
  if (drops.empty()) return;
  try {
    std::uint32_t devices = 0;
    for (const drop& d : drops) {
      device_page_table& t = ranges_.table(d.range->device().range_id, d.device);
      t.set(d.page, d.old_pte);
      t.publish(d.page, 1, h2d(d.device));
      devices |= 1u << d.device;
    }
    for (device_id d = 0; devices != 0; ++d, devices >>= 1) {
      if ((devices & 1u) != 0 && !backend_.wait(backend_.record(h2d(d)), settings_.timeout)) {
        log().error("restoring device {}'s entries of undone moves did not complete in time", d);
      }
    }
  } catch (const std::exception& e) {
    log().error("restoring other devices' entries of {} undone moves failed: {}", drops.size(),
                e.what());
  }
}

void transfer_pipeline::take_drops(std::vector<drop>& from, std::vector<drop>& to,
                                   std::span<const move> moves) {
  if (from.empty()) return;
  const auto moved = [&](const drop& d) {
    return std::any_of(moves.begin(), moves.end(),
                       [&](const move& m) { return m.range == d.range && m.page == d.page; });
  };
  for (const drop& d : from) {
    if (moved(d)) to.push_back(d);
  }
  std::erase_if(from, moved);
}

void transfer_pipeline::publish_entries(const std::vector<move>& moves, std::size_t first,
                                        std::size_t last, const stream& s, std::size_t* published) {
  // Moves are in page order: neighbours' entries go in one copy from the shadow. The pages stay
  // claimed until the copy has landed, so no later change of their entries can overtake it.
  for (std::size_t i = first; i < last;) {
    std::size_t j = i + 1;
    while (j < last && moves[j].range == moves[i].range && moves[j].device == moves[i].device &&
           moves[j].page == moves[j - 1].page + 1) {
      ++j;
    }
    ranges_.table(moves[i].range->device().range_id, moves[i].device)
        .publish(moves[i].page, j - i, s);
    if (published != nullptr) *published = j;
    i = j;
  }
}

int transfer_pipeline::complete(chunk& c, std::uint64_t* landed_ns) {
  if (c.moves.empty()) return 0;
  // A few pages land within microseconds, sooner than a sleeping thread is woken: poll them,
  // yielding the CPU, before sleeping on the event (as a spinning cudaEventSynchronize does).
  if (c.moves.size() * settings_.page_size <= poll_bytes) {
    for (int i = 0; i < poll_turns && !backend_.query(c.done); ++i) sched_yield();
  }
  if (!backend_.wait(c.done, settings_.timeout)) {
    // Publishing now could expose data that has not landed: the pages stay `migrating` until
    // the copies complete (the service's poll finishes the chunk then).
    log().error(
        "copies of {} pages did not complete within {} ms; they stay migrating until "
        "they do",
        c.moves.size(),
        std::chrono::duration_cast<std::chrono::milliseconds>(settings_.timeout).count());
    try {
      stalled_.push_back(std::move(c));
    } catch (...) {
      log().critical("could not keep {} stalled page moves: they stay busy", c.moves.size());
      c.reset();
    }
    return ETIMEDOUT;
  }
  if (landed_ns != nullptr) *landed_ns = now_ns();
  return finish(c);
}

void transfer_pipeline::poll() {
  for (std::size_t i = 0; i < stalled_.size();) {
    if (!backend_.query(stalled_[i].done)) {
      ++i;
      continue;
    }
    (void)finish(stalled_[i]);
    stalled_.erase(stalled_.begin() + static_cast<std::ptrdiff_t>(i));
  }
}

int transfer_pipeline::finish(chunk& c) {
  record_migration(c);
  c.issued = {};
  // The data has landed: now the host may see it. A widening that fails even coarsened (the
  // mapping limit) undoes its moves: the state must never allow more than the view does.
  int failure = 0;
  std::vector<bool> undo(c.moves.size(), false);
  for_each_access_run(c.moves, true, [&](std::size_t i, std::size_t j) {
    const move& m = c.moves[i];
    bool coarsened = false;
    const int err = m.range->widen(m.page, j - i, m.from, m.target, false, coarsened);
    if (err == 0) return;
    log().error("mprotect of pages {}..{} of range {} failed: {}; their move is undone", m.page,
                m.page + (j - i) - 1, static_cast<void*>(m.range->base()), std::strerror(err));
    failure = err;
    for (std::size_t k = i; k < j; ++k) undo[k] = true;
  });
  if (failure != 0) {
    chunk back(this);
    back.on = c.on;
    back.st = chunk::stage::issued;
    std::size_t kept = 0;
    for (std::size_t k = 0; k < c.moves.size(); ++k) {
      if (undo[k]) {
        back.moves.push_back(c.moves[k]);  // capacity: at most c's own
      } else {
        c.moves[kept++] = c.moves[k];
      }
    }
    c.moves.resize(kept);
    take_drops(c.drops, back.drops, back.moves);
    abandon(back);
  }
  settler_.landed(c.moves);
  settler_.dropped(c.drops);
  for (const move& m : c.moves) {
    const bool mapped = (m.pte & pte_valid) != 0;
    m.range->pages().publish(m.page, m.target, mapped ? device_mapped_bit : 0,
                             (mapped ? 0 : device_mapped_bit) | m.clear);
  }
  c.reset();
  return failure;
}

void transfer_pipeline::abandon(chunk& c) noexcept {
  if (c.moves.empty()) return;
  record_migration(c);  // its copies were counted: they are on the timeline too
  c.issued = {};
  // What was enqueued must land before entries are restored and frames reused.
  bool quiet = true;
  if (c.st == chunk::stage::issued) {
    try {
      quiet = backend_.wait(backend_.record(*c.on), settings_.timeout);
    } catch (const std::exception& e) {
      quiet = false;
      log().error("waiting for {} failed page moves: {}", c.moves.size(), e.what());
    }
  }
  // Moves whose entry was enqueued may be in use by a kernel already: they are completed.
  if (c.entries != 0) {
    if (!quiet) log().critical("completing {} page moves on a failed device", c.entries);
    chunk done(nullptr);
    try {
      done.moves.assign(c.moves.begin(), c.moves.begin() + static_cast<std::ptrdiff_t>(c.entries));
      take_drops(c.drops, done.drops, done.moves);
      (void)finish(done);
    } catch (const std::exception& e) {
      log().critical("completing {} page moves failed: {}; they stay busy", c.entries, e.what());
    }
    c.moves.erase(c.moves.begin(), c.moves.begin() + static_cast<std::ptrdiff_t>(c.entries));
    c.entries = 0;
    if (c.moves.empty()) return;
  }
  for (const move& m : c.moves) {
    ranges_.table(m.range->device().range_id, m.device).set(m.page, m.old_pte);
  }
  if (c.st == chunk::stage::issued && quiet) restore(c.drops);
  if (c.st == chunk::stage::issued && quiet) {
    try {  // entries of the others may have been written (an undo after finish): restore them
      publish_entries(c.moves, 0, c.moves.size(), *c.on, nullptr);
      quiet = backend_.wait(backend_.record(*c.on), settings_.timeout);
    } catch (const std::exception& e) {
      quiet = false;
      log().error("restoring the entries of {} page moves: {}", c.moves.size(), e.what());
    }
  }
  // Host access narrowed for the copies is opened again to what the old state allows.
  if (c.st != chunk::stage::planned) {
    for_each_access_run(c.moves, false, [&](std::size_t i, std::size_t j) {
      const move& m = c.moves[i];
      if (const int err = m.range->set_access(m.page, j - i, m.target, m.from, false); err != 0) {
        log().error("restoring the access of pages {}..{} of range {} failed: {}", m.page,
                    m.page + (j - i) - 1, static_cast<void*>(m.range->base()), std::strerror(err));
      }
    });
  }
  for (const move& m : c.moves) {
    if (m.taken) {
      if (quiet) {
        settler_.untaken(m.device, *m.taken);
      } else {
        log().critical("frame {} may still be written by a failed device; it is not reused",
                       *m.taken);
      }
    }
    if ((m.pte & (pte_remote | pte_peer)) != 0) counters_.mapped_remote(m.device, -1);
    const bool mapped = (m.old_pte & pte_valid) != 0;
    m.range->pages().publish(m.page, m.from, mapped ? device_mapped_bit : 0,
                             mapped ? 0 : device_mapped_bit);
  }
  log().warn("{} page moves were undone; the pages are as they were", c.moves.size());
  c.reset();
}

}  // namespace uvm::detail
