#pragma once

// The device frames a manager may use, carved from one device allocation sized by the budget.
// Which resident page gives its frame up is the eviction policy's business, not the pool's.
//
// A two-level bitmap of free frames: one bit per frame, and one summary bit per 64-frame word
// that has a free frame. take() finds the lowest free frame in a few word scans (it runs per page
// on the fault path); launch residency also takes chosen frames and runs of frames.
//
// Quarantine: a frame freed while kernels run may still have lines of its old page in the L1 of
// an SM that one of them runs on (L1 is not coherent, and is invalidated only when a kernel
// starts), so it stays out of the pool until every kernel that was in flight at the free has
// ended. The migrator names that moment by kernel ticket (host/migration/kernel_epochs.hpp).

#include <algorithm>
#include <bit>
#include <cassert>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

namespace uvm::detail {

class frame_pool {
 public:
  explicit frame_pool(std::uint32_t frames)
      : count_(frames), words_((frames + 63) / 64), summary_((words_.size() + 63) / 64) {
    for (std::uint32_t f = 0; f < frames; ++f) set(f);
    quarantine_.reserve(frames);  // quarantine() never allocates
  }

  /// Orders frees against kernel launches (kernel_epochs::ticket).
  using ticket = std::uint64_t;

  [[nodiscard]] std::uint32_t size() const noexcept { return count_; }
  [[nodiscard]] std::size_t free_count() const noexcept { return free_; }

  /// The lowest free frame: pages taken in order get ascending frames however frames were
  /// returned, so contiguous pages land in contiguous frames and their copies coalesce.
  [[nodiscard]] std::optional<std::uint32_t> take() {
    while (hint_ < summary_.size() && summary_[hint_] == 0) ++hint_;
    if (hint_ == summary_.size()) return std::nullopt;
    const std::size_t w = hint_ * 64 + static_cast<std::size_t>(std::countr_zero(summary_[hint_]));
    const auto f = static_cast<std::uint32_t>(w * 64 + std::countr_zero(words_[w]));
    clear(f);
    return f;
  }

  /// @return whether `frame` is free (false for a frame outside the pool).
  [[nodiscard]] bool is_free(std::uint32_t frame) const noexcept {
    return frame < count_ && (words_[frame / 64] >> (frame % 64) & 1) != 0;
  }

  /// Takes `frame`, which must be free.
  void take_frame(std::uint32_t frame) noexcept {
    assert(is_free(frame));
    clear(frame);
  }

  /// Takes frames [first, first + count), which must all be free.
  void take_run(std::uint32_t first, std::uint32_t count) noexcept {
    for (std::uint32_t f = first; f < first + count; ++f) take_frame(f);
  }

  /// Returns a taken frame.
  void give_back(std::uint32_t frame) noexcept {
    assert(frame < count_ && !is_free(frame));
    set(frame);
  }

  /// Returns a taken frame that kernels in flight may still cache: it stays taken until
  /// release_quarantined() is told that no kernel with a ticket below `fence` (one past the
  /// newest kernel that may have started at the free: kernel_epochs::free_fence) is in flight.
  /// Each frame waits for its own fence only. Frees on two streams can come in either order of
  /// their fences (one stream's chunk is freed while the other's newer kernel runs, the next
  /// one's while an older kernel does), and a frame held for a newer fence than its own would
  /// leave a pipeline without frames while kernels keep running.
  void quarantine(std::uint32_t frame, ticket fence) noexcept {
    assert(frame < count_ && !is_free(frame) && quarantined() < count_);
    if (head_ != 0 && quarantine_.size() == quarantine_.capacity()) {  // room at the front
      quarantine_.erase(quarantine_.begin(),
                        quarantine_.begin() + static_cast<std::ptrdiff_t>(head_));
      head_ = 0;
    }
    // Kept sorted by fence: frees mostly come with rising fences, so this is near the end.
    const auto at = std::upper_bound(quarantine_.begin() + static_cast<std::ptrdiff_t>(head_),
                                     quarantine_.end(), fence,
                                     [](ticket f, const held& h) { return f < h.fence; });
    quarantine_.insert(at, {fence, frame});  // within the capacity reserved for every frame
  }

  /// Returns the quarantined frames whose fence is at most `oldest` (the ticket of the oldest
  /// kernel in flight; the largest ticket if none is) to the pool. @return how many.
  std::size_t release_quarantined(ticket oldest) noexcept {
    std::size_t n = 0;
    // The queue is sorted by fence (quarantine): the frames that may come back are at its head.
    while (head_ < quarantine_.size() && quarantine_[head_].fence <= oldest) {
      set(quarantine_[head_++].frame);
      ++n;
    }
    if (head_ == quarantine_.size()) {
      quarantine_.clear();  // keeps the capacity
      head_ = 0;
    }
    return n;
  }

  /// @return how many frames wait in quarantine.
  [[nodiscard]] std::size_t quarantined() const noexcept { return quarantine_.size() - head_; }

  /// @return whether `frame` waits in quarantine (a scan: for tests and checks).
  [[nodiscard]] bool is_quarantined(std::uint32_t frame) const noexcept {
    return std::any_of(quarantine_.begin() + static_cast<std::ptrdiff_t>(head_), quarantine_.end(),
                       [&](const held& h) { return h.frame == frame; });
  }

  /// @return how many of frames [first, first + count) are free (frames outside the pool are not).
  [[nodiscard]] std::uint32_t free_in(std::uint32_t first, std::uint32_t count) const noexcept {
    const std::uint64_t end = std::min<std::uint64_t>(std::uint64_t{first} + count, count_);
    std::uint32_t n = 0;
    for (std::uint64_t f = first; f < end;) {
      const std::uint64_t w = f / 64;
      const std::uint64_t lo = f % 64;
      const std::uint64_t hi = std::min<std::uint64_t>(64, end - w * 64);  // bits [lo, hi)
      const std::uint64_t mask = (hi == 64 ? ~std::uint64_t{0} : (std::uint64_t{1} << hi) - 1) &
                                 ~((std::uint64_t{1} << lo) - 1);
      n += static_cast<std::uint32_t>(std::popcount(words_[w] & mask));
      f = w * 64 + hi;
    }
    return n;
  }

  /// @return the first frame of the lowest run of `count` free frames, or nothing if there is
  /// none (`count` 0: frame 0).
  [[nodiscard]] std::optional<std::uint32_t> find_run(std::uint32_t count) const noexcept {
    if (count == 0) return 0;
    std::uint32_t f = 0;
    while (f < count_) {
      f = next(f, true);  // a run starts here...
      if (f >= count_ || count_ - f < count) return std::nullopt;
      const std::uint32_t end = next(f, false);  // ...and ends before the next taken frame
      if (end - f >= count) return f;
      f = end;
    }
    return std::nullopt;
  }

 private:
  void set(std::uint32_t f) noexcept {
    const std::size_t w = f / 64;
    words_[w] |= std::uint64_t{1} << (f % 64);
    summary_[w / 64] |= std::uint64_t{1} << (w % 64);
    hint_ = std::min(hint_, w / 64);
    ++free_;
  }
  void clear(std::uint32_t f) noexcept {
    const std::size_t w = f / 64;
    words_[w] &= ~(std::uint64_t{1} << (f % 64));
    if (words_[w] == 0) summary_[w / 64] &= ~(std::uint64_t{1} << (w % 64));
    --free_;
  }
  // The first frame at or after `f` that is free (`free`) or taken (!`free`); count_ if none.
  [[nodiscard]] std::uint32_t next(std::uint32_t f, bool free) const noexcept {
    std::size_t w = f / 64;
    std::uint64_t bits = (free ? words_[w] : ~words_[w]) & (~std::uint64_t{0} << (f % 64));
    while (bits == 0) {
      if (++w == words_.size()) return count_;
      bits = free ? words_[w] : ~words_[w];
    }
    return std::min(count_, static_cast<std::uint32_t>(w * 64 + std::countr_zero(bits)));
  }

  struct held {
    ticket fence;
    std::uint32_t frame;
  };

  std::uint32_t count_;
  std::size_t free_ = 0;
  std::vector<held> quarantine_;  // from head_ on, in the order of their frees
  std::size_t head_ = 0;
  std::vector<std::uint64_t> words_;    // bit f % 64 of word f / 64: frame f is free
  std::vector<std::uint64_t> summary_;  // bit w % 64 of word w / 64: words_[w] has a free frame
  std::size_t hint_ = 0;                // summary words below it are all zero
};

}  // namespace uvm::detail
