#pragma once

// The device frames a manager may use, carved from one device allocation sized by the budget,
// and the order they were handed out in (FIFO eviction takes the oldest).

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <optional>
#include <vector>

namespace uvm::detail {

class frame_pool {
 public:
  struct resident {
    std::uint32_t range_id;
    std::uint32_t page;
    std::uint32_t frame;
  };

  explicit frame_pool(std::uint32_t frames) : owner_(frames) {
    free_.reserve(frames);
    for (std::uint32_t f = 0; f < frames; ++f) free_.push_back(f);  // sorted: already a min-heap
  }

  [[nodiscard]] std::uint32_t size() const noexcept {
    return static_cast<std::uint32_t>(owner_.size());
  }
  [[nodiscard]] std::size_t free_count() const noexcept { return free_.size(); }

  /// A free frame for `page` of `range_id`, remembered as the newest resident.
  [[nodiscard]] std::optional<std::uint32_t> take(std::uint32_t range_id, std::uint32_t page) {
    if (free_.empty()) return std::nullopt;
    // The lowest free frame: pages taken in order get ascending frames however frames were
    // returned, so contiguous pages land in contiguous frames and their copies coalesce.
    std::pop_heap(free_.begin(), free_.end(), std::greater<>{});
    const std::uint32_t f = free_.back();
    free_.pop_back();
    owner& o = owner_[f];
    o = {range_id, page, o.generation + 1, true};
    fifo_.push_back({f, o.generation});
    if (fifo_.size() > 2 * owner_.size() + 16) compact();
    return f;
  }

  void give_back(std::uint32_t frame) {
    owner_[frame].in_use = false;
    free_.push_back(frame);
    std::push_heap(free_.begin(), free_.end(), std::greater<>{});
  }

  /// Removes and returns the oldest resident page, or nothing if no frame is in use.
  [[nodiscard]] std::optional<resident> pop_oldest() {
    while (!fifo_.empty()) {
      const entry e = fifo_.front();
      fifo_.pop_front();
      if (current(e)) return resident{owner_[e.frame].range_id, owner_[e.frame].page, e.frame};
    }
    return std::nullopt;
  }

  /// Puts a resident back at the old end (a page that could not be evicted now).
  void push_oldest(const resident& r) { fifo_.push_front({r.frame, owner_[r.frame].generation}); }

 private:
  struct owner {
    std::uint32_t range_id = 0;
    std::uint32_t page = 0;
    std::uint32_t generation = 0;
    bool in_use = false;
  };
  struct entry {
    std::uint32_t frame;
    std::uint32_t generation;
  };
  [[nodiscard]] bool current(const entry& e) const noexcept {
    return owner_[e.frame].in_use && owner_[e.frame].generation == e.generation;
  }
  void compact() {
    std::erase_if(fifo_, [this](const entry& e) { return !current(e); });
  }

  std::vector<owner> owner_;
  std::vector<std::uint32_t> free_;  // min-heap
  std::deque<entry> fifo_;           // in hand-out order; entries of returned frames are skipped
};

}  // namespace uvm::detail
