#pragma once

// "adaptive": LRU that notices loops. A working set cycled through a device a little too small
// for it defeats LRU, FIFO and clock alike: each evicts exactly the page needed next. The
// policy remembers the pages it recently evicted (a ghost list twice as long as the most pages
// ever resident, so loops up to three times the device are seen) and keeps a moving average of
// how many new residents are such returning pages. When most are, the pattern is a loop larger
// than the device and the policy evicts the most recently used page instead, which keeps a
// stable part of the loop resident, as Belady's MIN does; otherwise it is plain LRU.

#include "host/policy/eviction_policy.hpp"
#include "host/policy/recency_list.hpp"

namespace uvm::detail {

class adaptive_eviction final : public eviction_policy {
 public:
  /// True while the policy evicts the most recently used page (it saw a loop).
  [[nodiscard]] bool looping() const noexcept { return regret_ > 0.5; }

 private:
  void do_on_resident(page_ref p) override;
  void do_on_access(page_ref p) override {
    if (order_.contains(p)) order_.touch(p);
  }
  void do_on_released(page_ref p) override;
  /// LRU's victim, or the most recently used page while looping; the same page until something
  /// is accessed, becomes resident or is released.
  std::optional<page_ref> do_victim() override {
    return looping() ? order_.newest() : order_.oldest();
  }
  std::size_t do_size() const noexcept override { return order_.size(); }
  std::string_view do_name() const noexcept override { return "adaptive"; }

  recency_list order_;    // resident pages
  recency_list ghosts_;   // recently released pages, oldest first
  std::size_t peak_ = 0;  // most pages ever resident; the ghost list holds twice as many
  double regret_ = 0.0;   // moving average: share of new residents that were recently released
};

}  // namespace uvm::detail
