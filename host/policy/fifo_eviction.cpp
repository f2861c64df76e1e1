#include "host/policy/fifo_eviction.hpp"

namespace uvm::detail {

void fifo_eviction::do_on_resident(page_ref p) {
  if (index_.contains(p)) return;
  index_.emplace(p, order_.insert(order_.end(), p));
}

void fifo_eviction::do_on_released(page_ref p) {
  auto it = index_.find(p);
  if (it == index_.end()) return;
  order_.erase(it->second);
  index_.erase(it);
}

std::optional<page_ref> fifo_eviction::do_victim() {
  if (order_.empty()) return std::nullopt;
  return order_.front();
}

}  // namespace uvm::detail
