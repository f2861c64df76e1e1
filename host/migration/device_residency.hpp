#pragma once

// What one device holds: its frames (one device allocation sized by the budget), which page each
// taken frame holds, the eviction policy that ranks them, the pages pinned by pin_resident, the
// pages evicted and not yet back, and the promotion state of the pages it maps remote.
//
// It decides nothing about coherence and moves no data: the migrator plans moves with it (take a
// frame, pick a victim) and tells it what happened (a page arrived, left, was used). A frame
// freed while kernels run is quarantined until they have ended (frame_pool.hpp); the caller
// names the moment (kernel_epochs tickets).
//
// Not synchronised: its owner serialises every call (the migrator's lock).
//
// @code
// device_residency d(backend, {.page_size = 65536, .budget_bytes = 1 << 30});
// if (auto f = d.take({range, page}, oldest)) copy_to(d.frame_address(*f));
// d.arrived({range, page});                  // the copy landed: the policy may rank it
// if (auto v = d.victim(false)) evict(*v);   // d.evicting(*v) once its move is planned
// @endcode

#include "host/backend/backend.hpp"
#include "host/migration/frame_pool.hpp"
#include "host/policy/eviction_policy.hpp"

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

namespace uvm::detail {

class device_residency {
 public:
  using ticket = frame_pool::ticket;
  /// A fence that quarantines nothing: the frame is free at once.
  static constexpr ticket no_fence = ~ticket{0};

  struct settings {
    std::size_t page_size;
    std::size_t budget_bytes;  ///< device memory for frames (at least one frame)
    std::string_view eviction = "dueling";
    /// The application's policy (uvm::config::custom_eviction), used instead of the named one.
    std::function<std::unique_ptr<eviction_policy>()> custom_eviction;
    /// Keep the promotion state: which remote pages were used in consecutive harvests.
    bool promote_remote = false;
    /// The device whose memory holds the frames.
    device_id device = 0;
  };

  /// Allocates the frames on `b`. @throws uvm::out_of_memory if they cannot be allocated;
  /// uvm::invalid_argument for an unknown eviction policy.
  device_residency(backend& b, const settings& s);
  ~device_residency();
  device_residency(const device_residency&) = delete;
  device_residency& operator=(const device_residency&) = delete;

  // --- Frames -------------------------------------------------------------------------------

  [[nodiscard]] std::uint32_t frame_count() const noexcept { return pool_.size(); }
  [[nodiscard]] std::size_t free_count() const noexcept { return pool_.free_count(); }
  [[nodiscard]] bool is_free(std::uint32_t f) const noexcept { return pool_.is_free(f); }
  /// The device address of frame 0; frame f is at frames() + f * page_size.
  [[nodiscard]] std::byte* frames() const noexcept { return frames_; }
  [[nodiscard]] std::byte* frame_address(std::uint32_t f) const noexcept {
    return frames_ + (std::size_t{f} << page_shift_);
  }
  /// The first frame of the lowest run of `count` free frames, if there is one.
  [[nodiscard]] std::optional<std::uint32_t> find_run(std::uint32_t count) const noexcept {
    return pool_.find_run(count);
  }
  /// The page a taken frame holds (or is being filled with).
  [[nodiscard]] page_ref owner(std::uint32_t f) const noexcept { return owners_[f]; }

  /// A frame for `p`: the lowest free one, else one whose quarantine has ended
  /// (`oldest_running()`: the ticket of the oldest kernel in flight, asked only then).
  /// Not announced to the policy until arrived(p). @return nothing if every frame is taken.
  template <class Oldest>
  [[nodiscard]] std::optional<std::uint32_t> take(page_ref p, Oldest&& oldest_running) {
    std::optional<std::uint32_t> f = pool_.take();
    if (!f && pool_.quarantined() != 0 && pool_.release_quarantined(oldest_running()) != 0) {
      f = pool_.take();
    }
    if (f) owners_[*f] = p;
    return f;
  }
  /// Takes frame `f`, which must be free, for `p` (launch residency chooses its frames).
  void take_at(std::uint32_t f, page_ref p) noexcept {
    pool_.take_frame(f);
    owners_[f] = p;
  }
  /// Returns a frame taken for a move that was undone: its page never arrived.
  void untake(std::uint32_t f) noexcept { pool_.give_back(f); }

  /// Returns quarantined frames whose fence is at most `oldest` (no_fence: all of them).
  void release_quarantined(ticket oldest) noexcept {
    if (pool_.quarantined() != 0) (void)pool_.release_quarantined(oldest);
  }
  [[nodiscard]] std::size_t quarantined() const noexcept { return pool_.quarantined(); }

  // --- Pages arriving and leaving -------------------------------------------------------------

  /// `p`'s copy into its frame landed: the policy ranks it from now on.
  /// @return whether it came back after an eviction (a capacity miss, not a side change).
  bool arrived(page_ref p) {
    eviction_->on_resident(p);
    return !evicted_.empty() && evicted_.erase(p) != 0;
  }
  /// `p` left frame `f`, freed under `fence` (no_fence: no kernel may cache it).
  /// @return whether it left by eviction (a capacity miss, not a side change).
  bool left(std::uint32_t f, page_ref p, ticket fence) noexcept {
    if (fence == no_fence) {
      pool_.give_back(f);
    } else {
      pool_.quarantine(f, fence);
    }
    eviction_->on_released(p);
    return !evicted_.empty() && evicted_.contains(p);
  }
  /// `p` keeps its frame but is never a victim again until ranked again (pinned to the device,
  /// or its range is going).
  void unranked(page_ref p) { eviction_->on_released(p); }
  /// `p` is evictable again (a device pin ended).
  void ranked(page_ref p) { eviction_->on_resident(p); }

  // --- Eviction -------------------------------------------------------------------------------

  /// The policy's next victim; with `unused_only`, none if the victim was used in the last
  /// harvested epoch (promotion never gives up data the last kernel used).
  [[nodiscard]] std::optional<page_ref> victim(bool unused_only) {
    std::optional<page_ref> v = eviction_->victim();
    if (v && unused_only && used_last_.contains(*v)) return std::nullopt;
    return v;
  }
  /// The move of victim `p` to the host is planned: the policy offers the next page, and the
  /// page's return will count as a capacity miss.
  void evicting(page_ref p) noexcept;
  [[nodiscard]] std::string_view policy_name() const noexcept { return eviction_->name(); }
  /// Whether harvests of the device's accessed bits are of use here (the policy ranks by use,
  /// or remote pages are promoted).
  [[nodiscard]] bool wants_accesses() const noexcept {
    return eviction_->uses_accesses() || settings_.promote_remote;
  }

  // --- Harvests and promotion -----------------------------------------------------------------

  /// A new harvest of the accessed bits begins (an epoch ended).
  void begin_harvest() noexcept {
    ++harvests_;
    used_last_.clear();
  }
  /// The harvest found `p` used, in a frame or (`remote`) mapped remote. A remote page used in
  /// hot_streak harvests in a row becomes hot.
  void used(page_ref p, bool remote);
  /// Whether a remote page became hot since the last take_hot.
  [[nodiscard]] bool has_hot() const noexcept { return !hot_.empty(); }
  /// The hot remote pages, in page order, at most `cap` of them (the rest wait for next time).
  [[nodiscard]] std::vector<page_ref> take_hot(std::size_t cap);
  /// `p` was promoted into a frame: its streak starts again.
  void promoted(page_ref p) noexcept { remote_seen_.erase(p); }
  static constexpr std::uint32_t hot_streak = 3;

  /// Forgets what it knows of the pages of range `id` (evictions, promotion state); the frames
  /// are the caller's to free (left).
  void forget(std::uint32_t range_id) noexcept;

 private:
  struct remote_use {
    std::uint64_t last = 0;    // the harvest that last saw it used
    std::uint32_t streak = 0;  // consecutive harvests that saw it used
  };

  backend& backend_;
  settings settings_;
  unsigned page_shift_;
  frame_pool pool_;
  std::vector<page_ref> owners_;  // by frame: the page it holds (meaningful while taken)
  std::unique_ptr<eviction_policy> eviction_;
  std::byte* frames_ = nullptr;  // device memory
  // Pages evicted and not yet back on the device: their moves are not side changes.
  std::unordered_set<page_ref, page_ref_hash> evicted_;
  // Promotion: the harvest at which each remote page was last used, the remote pages used in
  // hot_streak harvests in a row, and the resident pages used in the last one.
  std::unordered_map<page_ref, remote_use, page_ref_hash> remote_seen_;
  std::vector<page_ref> hot_;
  std::unordered_set<page_ref, page_ref_hash> used_last_;
  std::uint64_t harvests_ = 0;
};

}  // namespace uvm::detail
