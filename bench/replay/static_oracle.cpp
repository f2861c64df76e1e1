#include "bench/replay/static_oracle.hpp"

namespace uvm::replay {

static_oracle::static_oracle(const trace& t, std::uint16_t device) {
  for (const trace_record& r : t.records) {
    if (r.kind == trace_kind::device_access && r.device == device)
      ++pages_[detail::page_ref{r.range_id, r.page}].uses;
  }
}

void static_oracle::touch(detail::page_ref p, bool arriving) {
  const auto it = pages_.find(p);
  if (it == pages_.end() && !arriving) return;
  page_info& info = it == pages_.end() ? pages_[p] : it->second;  // arriving, never accessed
  if (!info.resident && !arriving) return;                        // no frame to keep
  if (info.resident) order_.erase({info.uses, info.stamp, p});
  info.resident = true;
  info.stamp = ++clock_;
  order_.emplace(info.uses, info.stamp, p);
}

void static_oracle::do_on_released(detail::page_ref p) {
  const auto it = pages_.find(p);
  if (it == pages_.end() || !it->second.resident) return;
  order_.erase({it->second.uses, it->second.stamp, p});
  it->second.resident = false;
}

std::optional<detail::page_ref> static_oracle::do_victim() {
  if (order_.empty()) return std::nullopt;
  return std::get<2>(*order_.begin());
}

}  // namespace uvm::replay
