// Promotion of remote pages: the migrator's epoch-boundary decision. A device fault that finds
// no free frame maps the page remote, and frames are never reclaimed under a running kernel;
// between kernels, the pages kernels keep using remotely earn a frame. The accessed-bit harvest
// at the end of each epoch notes which remote pages were used; a page used in three epochs in a
// row is hot. Before the next launch (none in flight), hot pages move into free frames, or
// into the frames of the eviction policy's victims, but only while the victim went unused in
// the last epoch: data the last kernel used is never given up for data it might use. At most a
// sixteenth of the device moves per boundary. So a loop that touches everything every epoch
// (nothing is unused) keeps its resident part, as Belady's MIN would, a loop over more epochs
// than the streak (layer by layer) is left remote, and a working set whose hot part stays
// moves it in over a few epochs.
#include "host/migration/migrator.hpp"

#include "host/telemetry/log.hpp"
#include "host/telemetry/nvtx.hpp"

#include <algorithm>
#include <exception>
#include <vector>

namespace uvm::detail {

void migrator::promote_remote() {
  std::lock_guard lock(mutex_);
  const cause_scope cause(pipe_, migration_cause::promotion);
  // kernels_in_flight harvests an epoch that ended since the last look (which may add pages).
  if (kernels_in_flight()) return;
  for (device_id d = 0; d < devices_; ++d) {
    if (residency(d).has_hot()) promote_remote(d);
  }
}

void migrator::promote_remote(device_id d) {
  device_residency& residency = this->residency(d);
  // A bounded share of the device per boundary: a working set that shifts a little every
  // epoch must not turn its whole device over each time.
  const std::vector<page_ref> hot =
      residency.take_hot(std::max<std::size_t>(1, residency.frame_count() / promote_share));
  UVM_NVTX_RANGE("promote", hot.size() * settings_.page_size);
  kernels_running_ = false;  // none starts while the lock is held
  try {
    const std::size_t moved = pipe_.run(
        hot.size(), copy_kind::host_to_device, d,
        [&](std::size_t i, std::size_t end) {
          if (residency.free_count() < end - i) {
            (void)evict(d, end - i - residency.free_count(), /*unused_only=*/true);
          }
        },
        [&](std::size_t i, chunk& c) {
          if (residency.free_count() == 0) return false;  // the rest stays remote
          managed_range* r = range_of(hot[i].range_id);
          if (r == nullptr || hot[i].page >= r->page_count()) return false;
          // Not remote any more (the CPU took it back, a prefetch moved it): nothing to do.
          if ((read_pte(*r, hot[i].page, d) & pte_remote) == 0) return false;
          return start_to_device(*r, hot[i].page, d, false, false, c);
        });
    counters_.promoted_pages.fetch_add(moved, std::memory_order_relaxed);
    for (const page_ref& p : hot) residency.promoted(p);
  } catch (const std::exception& e) {
    // The pages stay remote and correct: promotion is an optimisation.
    log().warn("promoting {} remote pages into frames failed: {}", hot.size(), e.what());
  }
}

}  // namespace uvm::detail
