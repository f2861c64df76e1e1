#pragma once

// What the device model charges a kernel for what it did (docs/device-model.md, "Kernels"):
// pure functions of the counted events and the profile, shared by the runtime and uvm-replay.

#include <uvm/device_model.hpp>

#include <algorithm>
#include <cstdint>
#include <vector>

namespace uvm::detail {

/// One page the device faults of a kernel moved (or an eviction they caused).
struct modelled_move {
  std::uint32_t range;
  std::uint64_t page;
  copy_direction direction;
  std::uint32_t device = 0;  ///< whose copy engine: the device the page moves into or out of
  friend bool operator==(const modelled_move&, const modelled_move&) = default;
};

/// What one kernel (or a launch scope's kernels) did, as counted.
struct kernel_account {
  std::uint64_t launches = 0;
  std::uint64_t faults = 0;  ///< pages mapped for its device faults
  std::vector<modelled_move> fault_moves;
  std::uint64_t access_bytes = 0;  ///< bytes its accesses reached in its device's frames
  std::uint64_t remote_lines = 0;  ///< lines it reached in host pages
  std::uint64_t peer_lines = 0;    ///< lines it reached in other devices' frames

  /// Adds `o`'s events to this one's.
  void merge(kernel_account&& o);
};

/// A kernel's modelled time, term by term (nanoseconds).
struct kernel_cost {
  std::uint64_t launch = 0;
  std::uint64_t compute = 0;
  std::uint64_t fault_service = 0;
  std::uint64_t fault_copies = 0;
  std::uint64_t remote = 0;
  std::uint64_t batches = 0;  ///< fault batches
  [[nodiscard]] std::uint64_t total() const noexcept {
    return launch + compute + fault_service + fault_copies + remote;
  }
};

/// Calls fn(device, direction, bytes) for each copy `moves` make once coalesced as the driver
/// coalesces them: pages sorted, neighbours of one device, one direction and one 2 MiB block of
/// one range in one copy. Sorts `moves`.
template <class Fn>
void for_each_copy(std::vector<modelled_move>& moves, std::uint64_t page_size, Fn&& fn);

/// The kernel's time on `p`: launches, its accesses at memory bandwidth, its faults in batches
/// of fault_batch_size (each with a publication), their copies one after another (a faulting
/// warp waits for its page), and its remote and peer lines (a.remote_lines and a.peer_lines,
/// or the counts given, in p's line size). Sorts a.fault_moves.
[[nodiscard]] kernel_cost cost_of(const device_profile& p, std::uint64_t page_size,
                                  kernel_account& a);
[[nodiscard]] kernel_cost cost_of(const device_profile& p, std::uint64_t page_size,
                                  kernel_account& a, std::uint64_t remote_lines,
                                  std::uint64_t peer_lines);

/// Nanoseconds, rounded to the nearest, of `us` microseconds.
[[nodiscard]] std::uint64_t ns_of_us(double us) noexcept;

template <class Fn>
void for_each_copy(std::vector<modelled_move>& moves, std::uint64_t page_size, Fn&& fn) {
  const auto order = [](const modelled_move& a, const modelled_move& b) {
    if (a.device != b.device) return a.device < b.device;
    if (a.direction != b.direction) return a.direction < b.direction;
    return a.range != b.range ? a.range < b.range : a.page < b.page;
  };
  std::sort(moves.begin(), moves.end(), order);
  const std::uint64_t block = std::max<std::uint64_t>(page_size, std::uint64_t{2} << 20);
  const auto block_of = [&](std::uint64_t page) { return page * page_size / block; };
  std::size_t i = 0;
  while (i < moves.size()) {
    std::size_t j = i + 1;
    while (j < moves.size() && moves[j].device == moves[i].device &&
           moves[j].direction == moves[i].direction && moves[j].range == moves[i].range &&
           moves[j].page == moves[j - 1].page + 1 &&
           block_of(moves[j].page) == block_of(moves[i].page)) {
      ++j;
    }
    fn(moves[i].device, moves[i].direction, (j - i) * page_size);
    i = j;
  }
}

}  // namespace uvm::detail
