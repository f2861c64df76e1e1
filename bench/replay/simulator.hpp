#pragma once

// A deterministic replay of a trace through the shipped policy objects (host/policy/), the same
// classes the migrator runs — not copies. No clocks, threads or randomness: the same trace and
// options give the same result, bit for bit.
//
// Model, per page: resident on the device or not, dirty on the device or not. Pages start on the
// host (the CPU holds every page that is not device-resident). Record by record:
//  - range: declares the range's pages (all on the host). A range id declared again was freed
//    and reused by the runtime: the old range's device pages are released (on_released, no
//    bytes: freed memory is not copied back, not counted as evictions).
//  - device_access to a resident page: eviction.on_access. To a non-resident page: a device
//    fault. The prefetch policy is asked for extra pages (block_state over the page's 2 MiB
//    block, page_bytes = the trace's page size, resident = simulator state, thrashing = the
//    thrashing detector's verdict). The faulting page, then the extra pages in the policy's
//    order, are brought in: if no frame is free, the eviction policy's victim is evicted (an
//    eviction; D2H bytes if dirty; on_released), then the page moves (H2D bytes, on_resident, a
//    migration). If the victim named for a *prefetched* page is a page of the same fault's batch
//    (the budget cannot hold the whole batch), the rest of the prefetch is dropped
//    (prefetch_dropped) — the faulting page always lands. A device write marks the page dirty.
//  - cpu_access to a device-resident page: a CPU fault; the page migrates back (D2H bytes if
//    dirty, on_released, a D2H migration). To any other page: nothing moves.
//  - epoch: counted.
// Every migration that changes a page's side is reported to the thrashing detector with a
// logical clock, `ns_per_record` per record index: H2D moves and CPU faults, not evictions nor
// the move that brings an evicted page back (capacity misses: a loop too big for the device is
// not ping-pong, as the runtime rules too). Its throttles and pins are counted; the simulator
// does not act on them except that prefetch skips pages the detector calls thrashing.
//
// Several devices (a trace whose records name devices 0 .. n-1): each device has its own
// `budget_pages` of frames and its own eviction policy (offline ones learn that device's accesses
// only); a page is on at most one device. A device access to a page another device holds moves
// it device to device (D2D bytes, a migration for the thrashing detector; its dirtiness goes
// with it), as the runtime does for a page no kernel on the holder may still use; a pinned page
// stays where it is. A CPU access takes a page from whichever device holds it. Prefetch takes
// only pages no device holds.
//
// Eviction policies that need the trace position (Belady's MIN) implement trace_position_hook:
// the simulator calls advance(i) before it processes record i.

#include "bench/replay/trace_io.hpp"
#include "host/policy/eviction_policy.hpp"
#include "host/policy/prefetch_policy.hpp"
#include "host/policy/thrashing_detector.hpp"

#include <uvm/device_model.hpp>

#include <cstddef>
#include <cstdint>
#include <string>

namespace uvm::replay {

/// Implemented by eviction policies that know the future; see the file comment.
class trace_position_hook {
 public:
  virtual ~trace_position_hook() = default;
  /// The simulator is about to process record `index` (called for every record, ascending).
  virtual void advance(std::size_t index) = 0;
};

struct sim_options {
  std::size_t budget_pages = 0;  ///< frames of each device, at least 1
  /// A shipped policy's name (make_eviction_policy), or an offline one built from the trace:
  /// "min" (Belady) or "a0" (the static oracle).
  std::string eviction = "lru";
  /// "none", "sequential", "tree" (make_prefetch_policy).
  std::string prefetch = "none";
  detail::prefetch_settings prefetch_config{};
  detail::thrashing_settings thrashing{};
  std::uint64_t ns_per_record = 1000;  ///< the logical clock: 1 us per record
  /// Device models (uvm/device_model.hpp) to time the replay on, as the runtime's model charges
  /// a run: each epoch one kernel (one launch, each page it accesses read once at memory
  /// bandwidth, its faults in batches, the copies they make and the dirty victims they write
  /// back), each CPU fault its handling and its copy back, one after another.
  std::vector<device_profile> models;
};

struct sim_result {
  std::string eviction;
  std::string prefetch;
  std::size_t budget_pages = 0;  ///< per device
  std::uint64_t page_size = 0;
  std::uint32_t devices = 1;  ///< the trace's devices

  std::uint64_t records = 0;
  std::uint64_t device_accesses = 0;
  std::uint64_t cpu_accesses = 0;
  std::uint64_t epochs = 0;

  std::uint64_t device_faults = 0;   ///< device accesses to non-resident pages
  std::uint64_t cpu_faults = 0;      ///< CPU accesses to device-resident pages
  std::uint64_t migrations_h2d = 0;  ///< pages brought to the device (faulting + prefetched)
  std::uint64_t migrations_d2h = 0;  ///< pages migrated back by CPU faults (not evictions)
  std::uint64_t migrations_d2d = 0;  ///< pages moved from one device to another
  std::uint64_t bytes_h2d = 0;
  std::uint64_t bytes_d2h = 0;  ///< dirty pages written back: CPU faults and evictions
  std::uint64_t bytes_d2d = 0;
  std::uint64_t evictions = 0;
  std::uint64_t prefetched_pages = 0;  ///< pages brought in that did not fault themselves
  std::uint64_t prefetch_dropped = 0;  ///< prefetch candidates dropped for lack of frames
  std::uint64_t thrashing_throttles = 0;
  std::uint64_t thrashing_pins = 0;
  /// Modelled nanoseconds on each of sim_options::models, in order.
  std::vector<std::uint64_t> modelled_ns;

  [[nodiscard]] std::uint64_t bytes_moved() const noexcept {
    return bytes_h2d + bytes_d2h + bytes_d2d;
  }
  friend bool operator==(const sim_result&, const sim_result&) = default;
};

/// Replays `t` with the policies named in `o` (one eviction policy of that name per device).
/// @throws uvm::invalid_argument for a bad name, a zero budget or a malformed trace.
[[nodiscard]] sim_result simulate(const trace& t, const sim_options& o);

/// Replays a one-device trace `t` through caller-made policies (fresh ones: no resident pages);
/// the names in `o` are ignored. If `eviction` also derives from trace_position_hook it is
/// advanced. @throws uvm::invalid_argument for a trace that names several devices.
[[nodiscard]] sim_result simulate(const trace& t, const sim_options& o,
                                  detail::eviction_policy& eviction,
                                  detail::prefetch_policy& prefetch);

}  // namespace uvm::replay
