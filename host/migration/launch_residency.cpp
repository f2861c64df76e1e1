// Launch residency: declared spans placed in contiguous frames before an uninstrumented kernel.
#include "host/migration/migrator.hpp"

#include "host/common/check.hpp"
#include "host/common/clock.hpp"
#include "host/telemetry/log.hpp"
#include "host/telemetry/nvtx.hpp"

#include <algorithm>
#include <optional>
#include <vector>

namespace uvm::detail {

std::byte* migrator::make_resident(managed_range& r, std::size_t first, std::size_t count,
                                   bool write, device_id device) {
  UVM_NVTX_RANGE(write ? "make resident (write)" : "make resident (read)",
                 count * settings_.page_size);
  std::unique_lock lock(mutex_);
  const cause_scope cause(pipe_, migration_cause::launch_residency);
  try {
    UVM_EXPECTS(count != 0 && first < r.page_count() && count <= r.page_count() - first,
                "uvm: launch residency for pages {}..{} of range {}: the range has {} pages", first,
                first + count - 1, static_cast<void*>(r.base()), r.page_count());
    UVM_EXPECTS(device < devices_, "uvm: launch residency on device {}: there are {}", device,
                devices_);
    if (count > residency(device).frame_count()) {
      throw out_of_memory(fmt::format(
          "uvm: launch residency for {} pages ({} bytes) of range {}: the device budget holds "
          "only {} frames",
          count, count << page_shift_, static_cast<void*>(r.base()),
          residency(device).frame_count()));
    }
    // Frames change hands only between kernels: a kernel may be using any of them.
    wait_until_no_kernels(lock, "uvm: launch residency");
    return place(r, first, count, write, device);
  } catch (...) {
    declared_.clear();  // the launch is off
    throw;
  }
}

void migrator::forget_declared() noexcept {
  std::lock_guard lock(mutex_);
  declared_.clear();
}

std::uint32_t migrator::pick_window(managed_range& r, std::size_t first, std::size_t count,
                                    device_id d) {
  const device_residency& residency = this->residency(d);
  const std::uint32_t id = r.device().range_id;
  const std::uint32_t frames = residency.frame_count();
  const auto n = static_cast<std::uint32_t>(count);
  const auto in_span = [&](page_ref o) {
    return o.range_id == id && o.page >= first && o.page < first + count;
  };
  // Windows that would keep a page in place, one entry per such page, ascending.
  std::vector<std::uint32_t> keeps;
  for (std::uint32_t i = 0; i < n; ++i) {
    const device_pte e = read_pte(r, first + i, d);
    if (!pte_in_frame(e)) continue;
    const std::uint32_t f = pte_frame(e);
    if (f >= i && f - i <= frames - n) keeps.push_back(f - i);
  }
  std::sort(keeps.begin(), keeps.end());
  if (keeps.empty()) {
    if (const std::optional<std::uint32_t> f = residency.find_run(n))
      return *f;  // the best there is
  }
  // Frames whose occupant cannot leave: device-pinned, busy, declared for the same launch, or
  // unknown. The span's own pages always can (they move if they are not in place).
  std::vector<std::uint8_t> stuck(frames, 0);
  for (std::uint32_t f = 0; f < frames; ++f) {
    if (residency.is_free(f) || in_span(residency.owner(f))) continue;
    const page_ref o = residency.owner(f);
    managed_range* owner = range_of(o.range_id);
    const bool declared = std::any_of(declared_.begin(), declared_.end(), [&](const auto& d) {
      return d.range_id == o.range_id && o.page >= d.first && o.page < d.first + d.count;
    });
    stuck[f] = owner == nullptr || o.page >= owner->page_count() || declared ||
               (owner->pages().load(o.page) & (busy_bit | pinned_bit)) != 0;
  }
  // Slide the window over the pool: most pages in place first, then most free frames.
  std::optional<std::uint32_t> best;
  std::uint32_t best_kept = 0;
  std::uint32_t best_free = 0;
  std::uint32_t blocked = 0;
  std::uint32_t free = 0;
  auto k = keeps.begin();
  for (std::uint32_t f = 0; f < n; ++f) {
    blocked += stuck[f];
    free += residency.is_free(f) ? 1 : 0;
  }
  for (std::uint32_t w = 0;; ++w) {
    std::uint32_t kept = 0;
    while (k != keeps.end() && *k < w) ++k;
    while (k != keeps.end() && *k == w) {
      ++kept;
      ++k;
    }
    if (blocked == 0 && (!best || kept > best_kept || (kept == best_kept && free > best_free))) {
      best = w;
      best_kept = kept;
      best_free = free;
    }
    if (w + n == frames) break;
    blocked += stuck[w + n];
    blocked -= stuck[w];
    free += (residency.is_free(w + n) ? 1 : 0);
    free -= (residency.is_free(w) ? 1 : 0);
  }
  if (!best) {
    throw out_of_memory(fmt::format(
        "uvm: launch residency for {} pages of range {}: every window of {} contiguous frames "
        "(of {}) holds a page pinned to the device or declared for the same launch; nothing "
        "was moved",
        count, static_cast<void*>(r.base()), count, frames));
  }
  return *best;
}

std::byte* migrator::place(managed_range& r, std::size_t first, std::size_t count, bool write,
                           device_id d) {
  device_residency& residency = this->residency(d);
  const std::uint32_t id = r.device().range_id;
  kernels_running_ = false;  // make_resident waited for them
  const page_use span = pages_of(r, first, count);
  settle_in_flight(&span);  // a queued move left copying: its pages are busy until it ends
  const auto n = static_cast<std::uint32_t>(count);
  const timespec deadline = deadline_after(settings_.timeout);
  // Refuse host pins before anything moves; remember device pins, to restore them after.
  std::vector<std::size_t> device_pinned;
  for (std::size_t p = first; p < first + count; ++p) {
    // A CPU first touch may be in flight (it needs no lock): let it finish.
    if ((r.pages().load(p) & busy_bit) != 0 && !r.pages().wait_until_idle(p, deadline)) {
      throw uvm::timeout(
          fmt::format("uvm: launch residency: page {} of range {} stayed {} past the fault timeout",
                      p, static_cast<void*>(r.base()), to_string(r.state_of(p))));
    }
    if ((r.pages().load(p) & pinned_bit) == 0) continue;
    if (!pte_in_frame(read_pte(r, p, d))) {
      throw_invalid(
          "uvm: launch residency: page {} of range {} is pinned to the host (pin_resident); "
          "unpin it before a kernel that needs it in device memory",
          p, static_cast<void*>(r.base()));
    }
    device_pinned.push_back(p);
  }
  const std::uint32_t window = pick_window(r, first, count, d);
  log().debug("launch residency: pages {}..{} of range {} into frames {}..{}", first,
              first + count - 1, static_cast<void*>(r.base()), window, window + n - 1);

  // 1. To the host: the span's pages another device holds, the window's other occupants
  //    (evicted, dirty ones copied back), the span's pages in other frames (simplest: through
  //    the host), and, for reading, the span's exclusive pages already in place (copied back if
  //    dirty; the frame stays as a duplicate).
  if (devices_ > 1) {
    // The device whose frame holds each page's only copy (d: none other).
    std::vector<device_id> owner(count, d);
    std::uint32_t owners = 0;  // bit o: some page's
    for (std::size_t p = first; p < first + count; ++p) {
      const holders h = holders_of(r, p);
      if (h.owner && *h.owner != d &&
          stored_state(r.pages().load(p)) == page_state::device_exclusive) {
        owner[p - first] = *h.owner;
        owners |= 1u << *h.owner;
      }
    }
    for (device_id o = 0; o < devices_; ++o) {
      if ((owners & (1u << o)) == 0) continue;
      chunk away(&pipe_);
      away.device = o;
      for (std::size_t p = first; p < first + count; ++p) {
        if (owner[p - first] == o) (void)start_to_host(r, p, true, away);
      }
      pipe_.enqueue(away, copy_kind::device_to_host);
      pipe_.complete(away);
    }
  }
  chunk back(&pipe_);
  back.device = d;
  std::size_t evicted = 0;
  for (std::uint32_t i = 0; i < n; ++i) {
    const std::uint32_t f = window + i;
    if (residency.is_free(f)) continue;
    const page_ref o = residency.owner(f);
    if (o.range_id == id && o.page >= first && o.page < first + count) continue;  // below
    managed_range* owner = range_of(o.range_id);
    if (owner != nullptr && o.page < owner->page_count() &&
        start_to_host(*owner, o.page, true, back)) {
      ++evicted;
    }
  }
  for (std::uint32_t i = 0; i < n; ++i) {
    const device_pte e = read_pte(r, first + i, d);
    if (!pte_in_frame(e)) continue;
    if (pte_frame(e) != window + i) {
      (void)start_to_host(r, first + i, true, back);
    } else if (!write && (e & pte_writable) != 0) {
      (void)start_to_host(r, first + i, false, back, true);
    }
  }
  pipe_.enqueue(back, copy_kind::device_to_host);
  pipe_.complete(back);
  counters_.evictions.fetch_add(evicted, std::memory_order_relaxed);
  counters_.devices[d].evictions.fetch_add(evicted, std::memory_order_relaxed);
  for (std::uint32_t i = 0; i < n; ++i) {
    const device_pte e = read_pte(r, first + i, d);
    if (pte_in_frame(e) ? pte_frame(e) != window + i : !residency.is_free(window + i)) {
      throw error(fmt::format(
          "uvm: launch residency: frame {} could not be cleared for page {} of range {} (a copy "
          "did not complete, or a page stayed busy); pages already moved stay valid",
          window + i, first + i, static_cast<void*>(r.base())));
    }
  }

  // 2. Into the window, in page order (first touches zero-filled), pipelined like a prefetch.
  const std::size_t moved = pipe_.run(
      n, copy_kind::host_to_device, d, [](std::size_t, std::size_t) {},
      [&](std::size_t i, chunk& c) {
        const placement at{window + static_cast<std::uint32_t>(i), write};
        return start_to_device(r, first + i, d, write, false, c, &at);
      });
  counters_.prefetched_pages.fetch_add(moved, std::memory_order_relaxed);

  for (std::size_t p : device_pinned) {
    r.pages().set_flag(p, 1, pinned_bit, true);  // moving it through the host unpinned it
    residency.unranked({id, static_cast<std::uint32_t>(p)});
  }
  const page_state want = write ? page_state::device_exclusive : page_state::shared;
  for (std::size_t p = first; p < first + count; ++p) {
    const page_word w = r.pages().load(p);
    if ((w & busy_bit) != 0 || stored_state(w) != want || (w & device_mapped_bit) == 0) {
      throw error(fmt::format(
          "uvm: launch residency: page {} of range {} could not be placed in frame {} (now {}); "
          "pages already moved stay valid",
          p, static_cast<void*>(r.base()), window + (p - first), to_string(visible_state(w))));
    }
  }
  declared_.push_back({id, first, count});
  return residency.frame_address(window);
}

}  // namespace uvm::detail
