// pin_resident and unpin: the migrator's pinning (counted per page).
#include "host/migration/migrator.hpp"

#include "host/common/check.hpp"
#include "host/common/clock.hpp"
#include "host/telemetry/log.hpp"
#include "host/telemetry/nvtx.hpp"

#include <algorithm>
#include <optional>
#include <vector>

namespace uvm::detail {

void migrator::pin(managed_range& r, std::size_t first, std::size_t count, bool to_device,
                   device_id device) {
  UVM_NVTX_FUNC_RANGE();
  // The prefetch releases the lock when it returns: a queued move may take pages away again
  // before it is taken back (pinning a page the device holds as if the host did would strand
  // the device's data). So the pages are checked under the lock, and moved again if one left.
  const auto in_place = [&](std::size_t p) {
    if (to_device) return pte_in_frame(read_pte(r, p, device));
    const page_word w = r.pages().load(p);
    return (w & (busy_bit | device_mapped_bit)) == 0 ||
           ((w & busy_bit) == 0 && stored_state(w) == page_state::remote);
  };
  std::unique_lock lock(mutex_, std::defer_lock);
  for (int attempt = 1;; ++attempt) {
    (void)prefetch(r, first, count, to_device, {}, device);
    lock.lock();
    const page_use span = pages_of(r, first, count);
    settle_in_flight(&span);  // a queued move left copying meanwhile: its pages are busy
    bool placed = true;
    for (std::size_t p = first; p < first + count && placed; ++p) placed = in_place(p);
    if (placed || attempt == pin_attempts) break;
    lock.unlock();
  }
  const std::uint32_t id = r.device().range_id;
  if (to_device) {
    for (std::size_t p = first; p < first + count; ++p) {
      if (!pte_in_frame(read_pte(r, p, device))) {
        throw out_of_memory(fmt::format(
            "uvm::manager::pin_resident: page {} of range {} did not fit in the budget of device "
            "{} ({} frames); nothing was pinned",
            p, static_cast<void*>(r.base()), device, residency(device).frame_count()));
      }
    }
    for (std::size_t p = first; p < first + count; ++p) {
      const page_ref ref{id, static_cast<std::uint32_t>(p)};
      residency(device).unranked(ref);  // never a victim
      pin_count& c = pins_[ref];
      ++c.count;
      c.device = device;
    }
    r.pages().set_flag(first, count, pinned_bit, true);
    record_instant(timeline_kind::pin, id, first, count, 0, 1);
    return;
  }
  // On the host: every page populated and writable now, so the CPU never faults on them.
  const timespec deadline = deadline_after(settings_.timeout);
  for (std::size_t p = first; p < first + count; ++p) {
    for (;;) {
      page_word w = r.pages().load(p);
      if ((w & busy_bit) != 0) {
        if (!r.pages().wait_until_idle(p, deadline)) {
          throw uvm::timeout(fmt::format("uvm::manager::pin_resident: page {} stayed busy", p));
        }
        continue;
      }
      const page_state s = stored_state(w);
      if (host_access_of(s) == host_access::read_write) break;
      if ((w & device_mapped_bit) != 0) {
        // Moved back to the device after every prefetch (other threads keep queueing moves).
        throw uvm::timeout(fmt::format(
            "uvm::manager::pin_resident: page {} went back to the device {} times while it was "
            "being pinned to the host (moves queued meanwhile); nothing was pinned",
            p, pin_attempts));
      }
      if (!r.pages().try_claim(p, w)) continue;
      const auto o = r.commit(p, w, page_state::host_exclusive);
      if (o.st != managed_range::fault_outcome::status::resolved) {
        throw_system(fmt::format("uvm::manager::pin_resident: making page {} writable", p),
                     o.error);
      }
      break;
    }
  }
  for (std::size_t p = first; p < first + count; ++p) {
    ++pins_[{id, static_cast<std::uint32_t>(p)}].count;
  }
  r.pages().set_flag(first, count, pinned_bit, true);
  record_instant(timeline_kind::pin, id, first, count);
}

void migrator::unpin(managed_range& r, std::size_t first, std::size_t count) {
  std::lock_guard lock(mutex_);
  const std::uint32_t id = r.device().range_id;
  record_instant(timeline_kind::unpin, id, first, count);
  for (std::size_t p = first; p < first + count; ++p) {
    const page_ref ref{id, static_cast<std::uint32_t>(p)};
    // Pins overlap: the page stays pinned until the last one over it ends.
    std::optional<device_id> on;
    if (const auto it = pins_.find(ref); it != pins_.end()) {
      if (--it->second.count != 0) continue;
      on = it->second.device;
      pins_.erase(it);
    }
    const page_word w = r.pages().load(p);
    if ((w & pinned_bit) == 0) continue;
    if (on && pte_in_frame(read_pte(r, p, *on))) {
      residency(*on).ranked(ref);  // evictable again
    }
    r.pages().set_flag(p, 1, pinned_bit, false);
  }
}

}  // namespace uvm::detail
