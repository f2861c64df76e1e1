#pragma once

// The device frames a manager may use, carved from one device allocation sized by the budget.
// Which resident page gives its frame up is the eviction policy's business, not the pool's.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <vector>

namespace uvm::detail {

class frame_pool {
 public:
  explicit frame_pool(std::uint32_t frames) : count_(frames) {
    free_.reserve(frames);
    for (std::uint32_t f = 0; f < frames; ++f) free_.push_back(f);  // sorted: already a min-heap
  }

  [[nodiscard]] std::uint32_t size() const noexcept { return count_; }
  [[nodiscard]] std::size_t free_count() const noexcept { return free_.size(); }

  /// The lowest free frame: pages taken in order get ascending frames however frames were
  /// returned, so contiguous pages land in contiguous frames and their copies coalesce.
  [[nodiscard]] std::optional<std::uint32_t> take() {
    if (free_.empty()) return std::nullopt;
    std::pop_heap(free_.begin(), free_.end(), std::greater<>{});
    const std::uint32_t f = free_.back();
    free_.pop_back();
    return f;
  }

  void give_back(std::uint32_t frame) {
    free_.push_back(frame);
    std::push_heap(free_.begin(), free_.end(), std::greater<>{});
  }

 private:
  std::uint32_t count_;
  std::vector<std::uint32_t> free_;  // min-heap
};

}  // namespace uvm::detail
