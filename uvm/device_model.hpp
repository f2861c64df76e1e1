#pragma once

/// @file
/// The device model: what a chosen GPU and link would take for the work the emulated device does.
///
/// The emulated device runs the real protocol at CPU speed, so its wall time says how fast the
/// host's threads are, not how fast a GPU would be. With a model (config::device_model,
/// `UVM_DEVICE_MODEL`), the manager also charges every event it already counts the cost a
/// profile gives it, and advances modelled clocks: one for the host, one per stream, one per copy
/// engine of each device. `stats().modelled` reports the result beside the wall-clock figures.
/// The model never changes what the runtime does, only what it reports, and it depends on
/// counted events, not on the machine's clock: the same events give the same modelled time on
/// any machine (docs/device-model.md says what each term charges, and when a program's events
/// themselves vary).
///
/// @code
/// uvm::config cfg;
/// cfg.device_model = "h100-pcie5";  // a path to a profile in JSON; several, comma-separated; all
/// uvm::manager mgr{cfg};
/// ... kernels, prefetches, CPU accesses ...
/// mgr.synchronize();
/// const uvm::stats s = mgr.stats();
/// const uvm::modelled_time& t = s.modelled.at(0);  // one per profile, in order
/// std::printf("%.3f ms on %s\n", t.total.count() / 1e6, t.profile.c_str());
/// @endcode

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace uvm {

/// @brief The direction of a modelled copy.
enum class copy_direction : std::uint8_t {
  host_to_device,    ///< over the host link
  device_to_host,    ///< over the host link
  device_to_device,  ///< between two devices (peer link)
};

/// @brief One direction of a link: a cost per copy and a bandwidth that grows with the copy's
/// size, as measured copies show (small copies do not fill the link).
struct link_profile {
  double latency_us = 0;  ///< charged once per copy
  /// Bandwidth by copy size: (bytes, GB/s) points, sizes ascending, GB = 1e9 bytes. Between two
  /// points it is interpolated linearly in log2(size); below the first and above the last it is
  /// that point's. One point: the same bandwidth at every size.
  std::vector<std::pair<std::uint64_t, double>> bandwidth;

  /// @return the bandwidth of a copy of `bytes`, in GB/s.
  [[nodiscard]] double gbps(std::uint64_t bytes) const noexcept;
  /// @return latency_us + bytes / gbps(bytes), in nanoseconds, rounded to the nearest.
  [[nodiscard]] std::uint64_t copy_ns(std::uint64_t bytes) const noexcept;
};

/// @brief The costs of one GPU and its links (docs/device-model.md: each field, and the sources
/// of the shipped profiles' values).
struct device_profile {
  std::string name;         ///< e.g. "h100-pcie5"
  std::string description;  ///< one line: the GPU, the link, where the numbers come from

  link_profile h2d;  ///< host to device
  link_profile d2h;  ///< device to host
  link_profile d2d;  ///< device to device (peer copies and peer accesses)
  /// Copy engines per device: with 1, copies in both directions take turns; with 2 or more, one
  /// engine serves each direction and they overlap.
  unsigned copy_engines = 2;

  /// Device faults are served in batches of up to fault_batch_size, as the driver reads its
  /// fault buffer: each batch costs fault_batch_us (reading the buffer, sorting, the replay),
  /// each fault in it fault_us (its page's state, mapping it).
  unsigned fault_batch_size = 256;
  double fault_batch_us = 0;
  double fault_us = 0;
  /// Making new page-table entries visible to the device (a membar and a TLB invalidate): once per
  /// fault batch and once per stream-ordered move that changes entries.
  double publish_us = 0;

  /// A device access to a page mapped on the host costs whole lines of line_bytes over the link,
  /// at remote_gbps, and remote_latency_us once per kernel that makes any (the rest is hidden by
  /// the accesses in flight). A peer mapping's lines go at the d2d link's largest bandwidth.
  unsigned line_bytes = 128;
  double remote_gbps = 0;
  double remote_latency_us = 0;

  /// A kernel's own work: the bytes its accesses reach in device memory, at memory_gbps, and
  /// launch_us per launch.
  double memory_gbps = 0;
  double launch_us = 0;

  /// A CPU fault that moves a page back from the device: the host's fault handling, beside the
  /// page's copy.
  double cpu_fault_us = 0;

  /// @return the shipped profile `name` (see shipped_profiles()).
  /// @throws uvm::invalid_argument naming the shipped profiles if there is none of that name.
  [[nodiscard]] static device_profile shipped(std::string_view name);
  /// @return the names of the shipped profiles.
  [[nodiscard]] static std::span<const std::string_view> shipped_profiles() noexcept;
  /// @return the shipped profile's JSON text (what `parse` reads), e.g. to start one of your own.
  /// @throws uvm::invalid_argument as shipped().
  [[nodiscard]] static std::string_view shipped_json(std::string_view name);
  /// @brief Reads a profile in the JSON form docs/device-model.md gives: every field present,
  /// numbers finite and not negative, bandwidths positive.
  /// @throws uvm::invalid_argument naming the field that is missing, negative or malformed.
  [[nodiscard]] static device_profile parse(std::string_view json);
  /// @return the shipped profile `name_or_path`, or else the profile in that file.
  /// @throws uvm::invalid_argument if neither exists or the file does not parse.
  [[nodiscard]] static device_profile load(std::string_view name_or_path);

  /// @return the link of `direction`.
  [[nodiscard]] const link_profile& link(copy_direction direction) const noexcept {
    return direction == copy_direction::host_to_device   ? h2d
           : direction == copy_direction::device_to_host ? d2h
                                                         : d2d;
  }
};

}  // namespace uvm
