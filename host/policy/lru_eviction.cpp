#include "host/policy/lru_eviction.hpp"

namespace uvm::detail {

void lru_eviction::do_on_resident(page_ref p) {
  auto it = index_.find(p);
  if (it != index_.end()) {
    order_.splice(order_.end(), order_, it->second);  // iterators stay valid
    return;
  }
  index_.emplace(p, order_.insert(order_.end(), p));
}

void lru_eviction::do_on_access(page_ref p) {
  auto it = index_.find(p);
  if (it != index_.end()) order_.splice(order_.end(), order_, it->second);
}

void lru_eviction::do_on_released(page_ref p) {
  auto it = index_.find(p);
  if (it == index_.end()) return;
  order_.erase(it->second);
  index_.erase(it);
}

std::optional<page_ref> lru_eviction::do_victim() {
  if (order_.empty()) return std::nullopt;
  return order_.front();
}

}  // namespace uvm::detail
