#pragma once

// Pages in the order they were last touched, with O(1) touch, erase and both ends: the
// bookkeeping LRU-style policies share. Nodes come from a pool of their own, so the per-page
// calls of a migration (one insert and one erase per page moved) cost no malloc.

#include "host/policy/page_ref.hpp"

#include <cstddef>
#include <list>
#include <memory_resource>
#include <optional>
#include <unordered_map>

namespace uvm::detail {

class recency_list {
 public:
  recency_list() = default;
  // The index holds iterators into the list: copies would point into the original.
  recency_list(const recency_list&) = delete;
  recency_list& operator=(const recency_list&) = delete;

  [[nodiscard]] bool contains(page_ref p) const { return index_.contains(p); }
  [[nodiscard]] std::size_t size() const noexcept { return index_.size(); }

  /// Makes `p` the most recent, adding it if absent.
  void touch(page_ref p) {
    if (auto it = index_.find(p); it != index_.end()) {
      order_.splice(order_.end(), order_, it->second);  // iterators stay valid
      return;
    }
    index_.emplace(p, order_.insert(order_.end(), p));
  }
  /// @return whether `p` was present.
  bool erase(page_ref p) {
    auto it = index_.find(p);
    if (it == index_.end()) return false;
    order_.erase(it->second);
    index_.erase(it);
    return true;
  }
  [[nodiscard]] std::optional<page_ref> oldest() const {
    return order_.empty() ? std::nullopt : std::optional(order_.front());
  }
  [[nodiscard]] std::optional<page_ref> newest() const {
    return order_.empty() ? std::nullopt : std::optional(order_.back());
  }

 private:
  std::pmr::unsynchronized_pool_resource pool_;  // first: outlives the containers using it
  std::pmr::list<page_ref> order_{&pool_};       // front: least recent
  std::pmr::unordered_map<page_ref, std::pmr::list<page_ref>::iterator, page_ref_hash> index_{
      &pool_};
};

}  // namespace uvm::detail
