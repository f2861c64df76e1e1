#include "bench/replay/belady.hpp"

namespace uvm::replay {

belady_eviction::belady_eviction(const trace& t, std::uint16_t device) {
  for (std::size_t i = 0; i < t.records.size(); ++i) {
    const trace_record& r = t.records[i];
    if (r.kind == trace_kind::device_access && r.device == device)
      pages_[detail::page_ref{r.range_id, r.page}].at.push_back(i);
  }
}

std::size_t belady_eviction::next_use(detail::page_ref p) {
  auto it = pages_.find(p);
  if (it == pages_.end()) return never;
  page_uses& u = it->second;
  // The position only moves forward, so the cursor does too: amortised O(1).
  while (u.pos < u.at.size() && u.at[u.pos] < now_) ++u.pos;
  return u.pos < u.at.size() ? u.at[u.pos] : never;
}

void belady_eviction::place(detail::page_ref p, page_uses& u) {
  if (u.resident) by_next_.erase({u.key, p});
  u.key = next_use(p);
  u.resident = true;
  by_next_.emplace(u.key, p);
}

void belady_eviction::do_on_resident(detail::page_ref p) {
  place(p, pages_[p]);  // a page the trace never touches on the device gets an empty history
}

void belady_eviction::do_on_access(detail::page_ref p) {
  auto it = pages_.find(p);
  if (it != pages_.end() && it->second.resident) place(p, it->second);
}

void belady_eviction::do_on_released(detail::page_ref p) {
  auto it = pages_.find(p);
  if (it == pages_.end() || !it->second.resident) return;
  by_next_.erase({it->second.key, p});
  it->second.resident = false;
}

std::optional<detail::page_ref> belady_eviction::do_victim() {
  if (by_next_.empty()) return std::nullopt;
  // Refresh the entries whose next use has passed (already accessed, at an earlier record).
  while (by_next_.begin()->first < now_) {
    const detail::page_ref p = by_next_.begin()->second;
    place(p, pages_.at(p));
  }
  return std::prev(by_next_.end())->second;
}

}  // namespace uvm::replay
