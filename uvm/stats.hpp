#pragma once

/// @file
/// Counters and latency histograms of a manager, as returned by uvm::manager::stats().

#include <array>
#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

namespace uvm {

/// @brief A histogram of durations in power-of-two nanosecond buckets: bucket `i` counts samples
/// in [2^i, 2^(i+1)) ns (bucket 0 also holds 0 ns).
struct latency_histogram {
  static constexpr std::size_t bucket_count = 40;  ///< up to 2^40 ns, about 18 minutes
  std::array<std::uint64_t, bucket_count> buckets{};
  std::uint64_t total_ns = 0;  ///< sum of all samples

  /// @return the number of samples.
  [[nodiscard]] std::uint64_t count() const noexcept;
  /// @return the mean sample, or 0 with no samples.
  [[nodiscard]] std::chrono::nanoseconds mean() const noexcept;
  /// @brief The q-quantile (0 <= q <= 1), interpolated inside its bucket.
  /// @return 0 with no samples.
  [[nodiscard]] std::chrono::nanoseconds quantile(double q) const noexcept;
};

/// @brief How many faults of one kind were taken and how long each took to resolve, from the
/// handler's entry to its return (waits included).
struct fault_stats {
  std::uint64_t count = 0;
  latency_histogram latency;
};

/// @brief Where the time of device faults goes: one histogram per stage, one sample per faulting
/// page served (the pages of one batch share its stages). planned + issued + landed + published
/// is `stats::device`'s latency, sample for sample.
struct device_fault_stages {
  /// Posted by the device → its batch taken by the migrator. Measured only where the device's
  /// clock is the host's (the emulated device); empty on a GPU.
  latency_histogram queued;
  latency_histogram planned;    ///< batch taken → its moves planned (claims, frames, prefetch)
  latency_histogram issued;     ///< planned → copies and entries enqueued (host access narrowed)
  latency_histogram landed;     ///< enqueued → the copies and entries landed
  latency_histogram published;  ///< landed → host access widened and the pages published
};

/// @brief Where the time of serviced CPU faults goes (`stats::serviced`: faults whose page data
/// moved, handed to the fault service thread or, under userfaultfd, resolved by the handler's
/// thread where that needed no waiting). One sample per fault for queued, waited and woken; copied
/// and opened only for faults whose page moved, one sample per move.
struct cpu_fault_stages {
  /// Handed over by the handler → taken by the service thread; 0 for a fault the userfaultfd
  /// handler's thread resolved itself (no hand-off: it needed no waiting for other threads).
  latency_histogram queued;
  /// Taken → its resolution started: put off while a kernel that may use the page ran, and
  /// behind the earlier faults of its batch.
  latency_histogram waited;
  latency_histogram copied;  ///< the move started → its copy landed (claim, narrowing, copy)
  latency_histogram opened;  ///< the copy landed → host access widened and the page published
  latency_histogram woken;   ///< completed by the service → the faulting thread running again
};

/// @brief What one device of the manager did (stats::devices).
struct device_stats {
  std::uint64_t faults = 0;              ///< pages mapped for its kernels' faults
  std::uint64_t bytes_from_host = 0;     ///< copied into its frames from the host
  std::uint64_t bytes_to_host = 0;       ///< copied from its frames back to the host
  std::uint64_t bytes_from_devices = 0;  ///< copied into its frames from other devices' frames
  std::uint64_t bytes_to_devices = 0;    ///< copied from its frames to other devices' frames
  std::uint64_t evictions = 0;           ///< pages whose frame it reclaimed
  std::uint64_t remote_mappings = 0;     ///< host pages or other devices' frames it mapped
  /// Per link: [o] is what was copied into its frames from device o's frames (one entry per
  /// device of the manager; its own is 0). Adds up to bytes_from_devices.
  std::vector<std::uint64_t> bytes_from_device;
};

/// @brief The device model's account (config::device_model; uvm/device_model.hpp): what the
/// counted events would have taken on the modelled GPU. Every duration is modelled, not measured,
/// and all are 0 without a model. The causes are busy times and overlap (copies on two engines,
/// kernels on two streams), so they may add up to more than `total`.
struct modelled_time {
  std::string profile;  ///< the profile's name; empty: no model
  /// The run's modelled length: the latest of the host's and every stream's clock.
  std::chrono::nanoseconds total{0};
  /// Kernels retired (a launch scope's kernels are one), and each one's modelled duration.
  std::uint64_t kernels = 0;
  latency_histogram per_kernel;
  std::chrono::nanoseconds launch{0};         ///< kernel launches
  std::chrono::nanoseconds compute{0};        ///< kernels' accesses to device memory
  std::chrono::nanoseconds fault_service{0};  ///< device fault batches, faults, publication
  std::chrono::nanoseconds fault_copies{0};   ///< copies made for device faults (evictions too)
  std::chrono::nanoseconds remote{0};         ///< kernels' accesses to remote and peer pages
  /// Copies of stream-ordered moves (prefetch, discard, launch residency) and their publication.
  std::chrono::nanoseconds stream_copies{0};
  std::chrono::nanoseconds cpu_faults{0};  ///< CPU faults that moved pages back, copies included
  std::uint64_t device_faults = 0;         ///< pages mapped for device faults
  std::uint64_t fault_batches = 0;         ///< the batches those formed (fault_batch_size each)
};

/// @brief A snapshot of a manager's counters since its creation or the last reset_stats().
struct stats {
  fault_stats first_touch;            ///< CPU faults on unpopulated pages, resolved inline
  fault_stats upgrade;                ///< CPU write faults on shared pages, resolved inline
  fault_stats waited;                 ///< CPU faults on a page another thread was changing
  fault_stats serviced;               ///< CPU faults on pages a device held
  std::uint64_t spurious_faults = 0;  ///< faults whose page already allowed the access (races)

  /// Pages mapped for the device on its faults; latency from the service thread taking the
  /// batch of fault records to the batch's page-table entries being published (the time a record
  /// waits in the mailbox, and the device's wait after publishing, are not included).
  fault_stats device;
  device_fault_stages device_stages;      ///< `device`'s time, stage by stage
  cpu_fault_stages serviced_stages;       ///< `serviced`'s time, stage by stage
  std::uint64_t remote_mappings = 0;      ///< pages mapped to host memory because no frame was free
  std::uint64_t evictions = 0;            ///< pages whose frame was reclaimed
  std::uint64_t prefetched_pages = 0;     ///< pages moved by prefetch, either way
  std::uint64_t discarded_pages = 0;      ///< pages whose contents discard dropped (no copy)
  std::uint64_t promoted_pages = 0;       ///< remote pages moved into frames between kernels
  std::uint64_t thrashing_throttles = 0;  ///< detections of a page migrating back and forth
  std::uint64_t thrashing_pins = 0;       ///< thrashing pages pinned to the host and mapped remote

  /// Blocks whose pages were made host-resident together because the process neared
  /// vm.max_map_count (see docs/architecture.md, "Mapping budget").
  std::uint64_t coarsened_blocks = 0;
  /// Times the fault service put off a CPU fault on a device-held page because a kernel that
  /// may use it was in flight (it retries each turn: a long wait counts more than once; 0 means
  /// no CPU access waited for a kernel).
  std::uint64_t cpu_fault_deferrals = 0;
  std::uint64_t bytes_host_to_device = 0;  ///< bytes copied to a device
  std::uint64_t bytes_device_to_host = 0;  ///< bytes copied back to the host
  /// bytes copied from one device's memory to another's (device-to-device moves)
  std::uint64_t bytes_device_to_device = 0;
  /// The same by device, one entry per device of the manager (manager::device_count()).
  std::vector<device_stats> devices;

  /// CPU time the fault service thread used, its polling while kernels run included: what
  /// serving faults costs the host beside the faulting threads.
  std::chrono::nanoseconds service_cpu_time{0};
  /// The device model's accounts, one per profile of config::device_model in its order (empty
  /// without a model).
  std::vector<modelled_time> modelled;
  std::uint64_t live_ranges = 0;     ///< ranges allocated and not yet freed
  std::uint64_t reserved_bytes = 0;  ///< address space of the live ranges, page-rounded

  /// @return the number of CPU faults of every kind, spurious ones included.
  [[nodiscard]] std::uint64_t cpu_faults() const noexcept {
    return first_touch.count + upgrade.count + waited.count + serviced.count + spurious_faults;
  }
};

/// @brief One line (no newline) summing `s` up: faults by kind, bytes each way, evictions,
/// remote mappings, prefetched and promoted pages, thrashing, and the time spent in faults.
/// What config::print_stats (UVM_STATS=1) writes on stderr when a manager is destroyed.
/// @code
/// uvm: faults cpu 1024 (first-touch 1000, upgrade 8, waited 4, serviced 12, spurious 0),
/// device 512 | H2D 32.0 MiB, D2H 16.0 MiB | evictions 0, remote 0, prefetched 0, promoted 0 |
/// thrashing 0 throttles, 0 pins | in faults: cpu 12.3 ms, device 4.5 ms
/// @endcode
[[nodiscard]] std::string summary(const stats& s);

}  // namespace uvm
