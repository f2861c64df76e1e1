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

void migrator::note_remote_use(page_ref p) {
  remote_use& u = remote_seen_[p];
  u.streak = u.last + 1 == harvests_ ? u.streak + 1 : 1;
  u.last = harvests_;
  if (u.streak == hot_streak) hot_remote_.push_back(p);
}

void migrator::forget_promotions(std::uint32_t range_id) noexcept {
  std::erase_if(remote_seen_, [&](const auto& e) { return e.first.range_id == range_id; });
  std::erase_if(hot_remote_, [&](page_ref p) { return p.range_id == range_id; });
  std::erase_if(used_last_, [&](page_ref p) { return p.range_id == range_id; });
}

void migrator::promote_remote() {
  std::lock_guard lock(mutex_);
  const cause_scope cause(*this, migration_cause::promotion);
  // kernels_in_flight harvests an epoch that ended since the last look (which may add pages).
  if (hot_remote_.empty() || kernels_in_flight()) return;
  std::vector<page_ref> hot;
  hot.swap(hot_remote_);
  std::sort(hot.begin(), hot.end());  // page order: neighbours share copies
  hot.erase(std::unique(hot.begin(), hot.end()), hot.end());
  // A bounded share of the device per boundary: a working set that shifts a little every
  // epoch must not turn its whole device over each time.
  const std::size_t cap = std::max<std::size_t>(1, pool_.size() / promote_share);
  if (hot.size() > cap) {
    for (std::size_t i = cap; i < hot.size(); ++i) hot_remote_.push_back(hot[i]);  // next time
    hot.resize(cap);
  }
  UVM_NVTX_RANGE("promote", hot.size() * settings_.page_size);
  kernels_running_ = false;  // none starts while the lock is held
  try {
    const std::size_t moved = pipelined(
        hot.size(), copy_kind::host_to_device, h2d_,
        [&](std::size_t i, std::size_t end) {
          if (pool_.free_count() < end - i) {
            (void)evict(end - i - pool_.free_count(), /*unused_only=*/true);
          }
        },
        [&](std::size_t i, chunk& c) {
          if (pool_.free_count() == 0) return false;  // the rest stays remote
          managed_range* r = range_of(hot[i].range_id);
          if (r == nullptr || hot[i].page >= r->page_count()) return false;
          // Not remote any more (the CPU took it back, a prefetch moved it): nothing to do.
          if ((read_pte(*r, hot[i].page) & pte_remote) == 0) return false;
          return start_to_device(*r, hot[i].page, false, false, c);
        });
    counters_.promoted_pages.fetch_add(moved, std::memory_order_relaxed);
    for (const page_ref& p : hot) remote_seen_.erase(p);
  } catch (const std::exception& e) {
    // The pages stay remote and correct: promotion is an optimisation.
    log().warn("promoting {} remote pages into frames failed: {}", hot.size(), e.what());
  }
}

}  // namespace uvm::detail
