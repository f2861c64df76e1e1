#pragma once

// Detects pages that bounce between host and device (both sides keep touching them), so the
// runtime can throttle their migration and, if that does not help, pin them on one side and map
// them remotely. Pure bookkeeping: time comes only from the callers' timestamps, so the runtime
// and the trace replayer get the same verdicts for the same events.
//
// Exact semantics, per page:
//  - Detection: the page's last `migrations` migrations (since its last detection) fall within
//    `lapse_ns` (newest - oldest <= lapse_ns). A detection clears that history, so the next one
//    needs `migrations` fresh migrations.
//  - The first `throttles_before_pin` detections answer `throttle`; every later one answers
//    `pin_remote`. With the defaults: migrations 3 and 6 throttle, migration 9 pins (all close
//    together).
//  - Quiet period: a page that has not migrated for `quiet_ns` (now - last >= quiet_ns) is back
//    to normal: its history and throttle count are forgotten. on_migration and thrashing() apply
//    this rule themselves, so verdicts do not depend on when decay() runs; decay() only frees
//    the memory (and is what tracked() counts).
//  - thrashing(): the page has been throttled or pinned and is not yet quiet.
//  - Timestamps that go backwards (threads racing to report) count as "no time elapsed".

#include "host/policy/page_ref.hpp"

#include <cstddef>
#include <cstdint>
#include <memory_resource>
#include <unordered_map>
#include <vector>

namespace uvm::detail {

struct thrashing_settings {
  std::uint32_t migrations = 3;            ///< migrations within lapse_ns that mean thrashing
  std::uint64_t lapse_ns = 500'000;        ///< 500 us
  std::uint32_t throttles_before_pin = 2;  ///< detections answered with throttle before pinning
  std::uint64_t quiet_ns = 10'000'000;     ///< 10 ms without migrations: back to normal
};

class thrashing_detector {
 public:
  enum class verdict { normal, throttle, pin_remote };

  /// @throws uvm::invalid_argument if migrations is 0 or quiet_ns is 0.
  explicit thrashing_detector(const thrashing_settings& s = {});

  /// Records that `p` migrated (either way) at `now_ns`; says what to do about it.
  verdict on_migration(page_ref p, std::uint64_t now_ns);
  /// True if `p` was throttled or pinned and has not been quiet since: never prefetch it.
  [[nodiscard]] bool thrashing(page_ref p, std::uint64_t now_ns) const;
  /// Forgets every page quiet at `now_ns`.
  void decay(std::uint64_t now_ns);

  /// Verdicts given so far.
  [[nodiscard]] std::uint64_t throttles() const noexcept { return throttles_; }
  [[nodiscard]] std::uint64_t pins() const noexcept { return pins_; }
  /// Pages with state (including quiet ones not yet forgotten by decay()).
  [[nodiscard]] std::size_t tracked() const noexcept { return pages_.size(); }
  [[nodiscard]] const thrashing_settings& settings() const noexcept { return s_; }

 private:
  struct page_state {
    std::vector<std::uint64_t> recent;  // migrations since the last detection, within lapse_ns
    std::uint64_t last_ns = 0;          // the latest migration
    std::uint32_t detections = 0;       // since the last quiet period
  };
  [[nodiscard]] bool quiet(const page_state& st, std::uint64_t now_ns) const noexcept;

  thrashing_settings s_;
  std::pmr::unsynchronized_pool_resource pool_;  // per-page entries cost no malloc
  std::pmr::unordered_map<page_ref, page_state, page_ref_hash> pages_{&pool_};
  std::uint64_t throttles_ = 0;
  std::uint64_t pins_ = 0;
};

}  // namespace uvm::detail
