#include "host/policy/thrashing_detector.hpp"

#include "host/common/check.hpp"

#include <algorithm>
#include <limits>

namespace uvm::detail {
namespace {

/// now - then, or 0 if `now` is earlier (out-of-order reports).
std::uint64_t elapsed(std::uint64_t now, std::uint64_t then) noexcept {
  return now > then ? now - then : 0;
}

}  // namespace

thrashing_detector::thrashing_detector(const thrashing_settings& s) : s_(s) {
  UVM_EXPECTS(s.migrations > 0, "thrashing detector: migrations must be at least 1");
  UVM_EXPECTS(s.quiet_ns > 0, "thrashing detector: quiet_ns must be positive");
}

bool thrashing_detector::quiet(const page_state& st, std::uint64_t now_ns) const noexcept {
  return elapsed(now_ns, st.last_ns) >= s_.quiet_ns;
}

thrashing_detector::verdict thrashing_detector::on_migration(page_ref p, std::uint64_t now_ns) {
  auto [it, inserted] = pages_.try_emplace(p);
  page_state& st = it->second;
  if (!inserted && quiet(st, now_ns)) {
    st.recent.clear();  // forgotten, but the vector keeps its capacity: no allocation per move
    st.last_ns = 0;
    st.detections = 0;
  }
  st.last_ns = std::max(st.last_ns, now_ns);

  // Keep only the migrations that can still be in a window with this one.
  std::erase_if(st.recent, [&](std::uint64_t t) { return elapsed(now_ns, t) > s_.lapse_ns; });
  st.recent.push_back(now_ns);
  if (st.recent.size() < s_.migrations) return verdict::normal;

  st.recent.clear();
  const bool pin = st.detections >= s_.throttles_before_pin;
  // Counted for pins too, so thrashing() holds for a page pinned without throttles first.
  if (st.detections < std::numeric_limits<std::uint32_t>::max()) ++st.detections;
  if (pin) {
    ++pins_;
    return verdict::pin_remote;
  }
  ++throttles_;
  return verdict::throttle;
}

bool thrashing_detector::thrashing(page_ref p, std::uint64_t now_ns) const {
  auto it = pages_.find(p);
  return it != pages_.end() && it->second.detections > 0 && !quiet(it->second, now_ns);
}

void thrashing_detector::decay(std::uint64_t now_ns) {
  std::erase_if(pages_, [&](const auto& kv) { return quiet(kv.second, now_ns); });
}

}  // namespace uvm::detail
