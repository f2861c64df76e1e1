#pragma once

// One entry of the run's timeline (timeline.hpp): a fixed-size record that any thread, the
// signal handler included, pushes into the timeline's ring, and the service thread writes out
// as Chrome trace event JSON.

#include <cstdint>

namespace uvm::detail {

enum class timeline_kind : std::uint8_t {
  cpu_fault,            ///< on thread `tid`: `detail` a cpu_fault_kind, `flags` 1 for a write;
                        ///< serviced: stage_pair(queued, waited) in `value`,
                        ///< stage_pair(resolved, woken) in `key` (ns)
  cpu_fault_batch,      ///< on the service thread: `count` requests
  device_fault_batch,   ///< on the service thread: `count` pages, `value` records before dedup
  migration,            ///< a chunk of moves: `detail` a migration_cause, `flags` a direction,
                        ///< `count` pages, `value` bytes copied, `key` of them from other
                        ///< devices
  kernel_epoch,         ///< kernels on the stream `key`, from launch to observed completion
  range_created,        ///< instant: range `range_id` of `value` bytes
  range_freed,          ///< instant
  thrashing,            ///< instant: `detail` 0 throttled, 1 pinned where it is
  pin,                  ///< instant: `count` pages from `page`, `flags` 1 to the device
  unpin,                ///< instant: `count` pages from `page`
  remote_mapping,       ///< instant: `page` mapped to host memory, or (`flags` 1) to another
                        ///< device's frame, for `device`
  device_fault_stages,  ///< a batch's stages, start to end: `count` pages, stage_pair(planned,
                        ///< issued) in `value`, stage_pair(landed, published) in `key` (ns)
  modelled_kernel,      ///< the device model's kernel on the stream `key`, on the modelled clock
                        ///< (origin + modelled ns): `value` its fault time, `count` its faults
  modelled_copy,        ///< the device model's copy on `device`'s engine, `flags` to_device_flag
                        ///< for copies into it, `value` bytes, on the modelled clock
};

/// Two stage durations in one 64-bit field, each clamped to 32 bits of nanoseconds (4.29 s).
[[nodiscard]] constexpr std::uint64_t stage_pair(std::uint64_t first,
                                                 std::uint64_t second) noexcept {
  constexpr std::uint64_t max = 0xffffffffu;
  return (first < max ? first : max) << 32 | (second < max ? second : max);
}
[[nodiscard]] constexpr std::uint64_t stage_first(std::uint64_t pair) noexcept {
  return pair >> 32;
}
[[nodiscard]] constexpr std::uint64_t stage_second(std::uint64_t pair) noexcept {
  return pair & 0xffffffffu;
}

enum class cpu_fault_kind : std::uint8_t {
  first_touch,
  upgrade,
  waited,
  serviced,
  spurious,
  timed_out,
  failed
};

enum class migration_cause : std::uint8_t {
  cpu_fault,
  device_fault,
  prefetch,
  eviction,
  discard,
  launch_residency,
  promotion,
  pin
};

inline constexpr std::uint8_t to_device_flag = 1;    ///< migration: host to device
inline constexpr std::uint8_t many_ranges_flag = 2;  ///< migration: its moves span several ranges

struct timeline_event {
  std::uint64_t start_ns = 0;  ///< CLOCK_MONOTONIC
  std::uint64_t end_ns = 0;    ///< the same as start_ns for instants
  std::uint64_t value = 0;
  std::uint64_t key = 0;  ///< kernel_epoch: the stream's identity
  std::uint32_t tid = 0;  ///< cpu_fault, *_batch: the thread
  std::uint32_t range_id = 0;
  std::uint32_t page = 0;
  std::uint32_t count = 0;
  timeline_kind kind = timeline_kind::cpu_fault;
  std::uint8_t detail = 0;
  std::uint8_t flags = 0;
  std::uint8_t device = 0;  ///< migration: the device copied to or from; remote_mapping: the
                            ///< device that maps the page
};

}  // namespace uvm::detail
