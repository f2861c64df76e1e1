#pragma once

// The device model's clocks (docs/device-model.md, "Clocks"): one for the host, one per stream,
// one per copy engine of each device. Work on a stream starts once the stream's earlier work has
// ended and the host has issued it; a copy also waits for its engine. The host's clock moves when
// it waits for a stream or does modelled work itself (a CPU fault). Integer nanoseconds: sums and
// maxima do not depend on the order in which independent work is charged.
//
// Not synchronised: the device model serialises every call.

#include <uvm/device_model.hpp>

#include <cstdint>
#include <unordered_map>
#include <vector>

namespace uvm::detail {

class model_clock {
 public:
  using stream_key = std::uint64_t;

  /// `devices` devices with `copy_engines` each: with 1, both directions share it; with more,
  /// host-to-device and device-to-device copies (into the device) use one, device-to-host another.
  model_clock(unsigned devices, unsigned copy_engines);

  [[nodiscard]] std::uint64_t host() const noexcept { return host_; }
  /// The stream's clock: when its work charged so far ends.
  [[nodiscard]] std::uint64_t stream(stream_key s) const noexcept;
  /// The latest of the host's and every stream's clock.
  [[nodiscard]] std::uint64_t makespan() const noexcept;

  /// Makes `s`'s clock (at 0) if it has none, so that run() and copy() never allocate.
  /// @throws std::bad_alloc
  void add_stream(stream_key s) { streams_.try_emplace(s, 0); }
  /// Work of `duration` on `s`, issued by the host at `issued`. @return its end.
  std::uint64_t run(stream_key s, std::uint64_t issued, std::uint64_t duration);
  /// A copy of `duration` on `s` into (or out of) device `d`, issued at `issued`: also after the
  /// engine's earlier copies. @return its end.
  std::uint64_t copy(stream_key s, unsigned d, copy_direction dir, std::uint64_t issued,
                     std::uint64_t duration);
  /// The host does `duration` of work (a CPU fault's handling).
  void host_work(std::uint64_t duration) noexcept { host_ += duration; }
  /// The host waits for a copy of `duration` it issues now on device `d`'s engine.
  void host_copy(unsigned d, copy_direction dir, std::uint64_t duration);
  /// The host waits for the work charged to `s` so far.
  void wait(stream_key s) noexcept;
  /// The host waits for every stream.
  void wait_all() noexcept;

 private:
  std::uint64_t& engine(unsigned d, copy_direction dir);

  unsigned copy_engines_;
  std::uint64_t host_ = 0;
  std::unordered_map<stream_key, std::uint64_t> streams_;
  std::vector<std::uint64_t> engines_;  // devices * 2
};

}  // namespace uvm::detail
