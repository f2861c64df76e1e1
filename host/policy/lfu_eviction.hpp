#pragma once

// "lfu": evicts the resident page used least often, ties going to the least recently used.
// Counts outlive residency (a page evicted and brought back keeps its history), and every
// `aging period` references all counts are halved, so a page that was hot long ago does not
// hold its frame for ever. What wins on skewed, stationary popularity (embedding tables, hash
// tables with hot keys), where recency alone evicts hot pages between their uses.

#include "host/policy/eviction_policy.hpp"

#include <cstdint>
#include <set>
#include <tuple>
#include <unordered_map>

namespace uvm::detail {

class lfu_eviction final : public eviction_policy {
 public:
  /// The use count of `p` (0 if never seen or aged out).
  [[nodiscard]] std::uint32_t count(page_ref p) const noexcept;

 private:
  struct entry {
    std::uint32_t count = 0;
    std::uint64_t stamp = 0;  // the last use
    bool resident = false;
  };
  using key = std::tuple<std::uint32_t, std::uint64_t, page_ref>;  // count, stamp, page

  void do_on_resident(page_ref p) override;
  void do_on_access(page_ref p) override;
  void do_on_released(page_ref p) override;
  std::optional<page_ref> do_victim() override;
  std::size_t do_size() const noexcept override { return order_.size(); }
  std::string_view do_name() const noexcept override { return "lfu"; }

  void use(page_ref p, entry& e);
  void age();

  std::unordered_map<page_ref, entry, page_ref_hash> pages_;
  std::set<key> order_;  // resident pages, least used (then least recent) first
  std::uint64_t clock_ = 0;
  std::uint64_t since_aging_ = 0;
  std::size_t peak_ = 0;  // most pages ever resident: the aging period is a multiple of it
};

}  // namespace uvm::detail
