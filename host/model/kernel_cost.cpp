#include "host/model/kernel_cost.hpp"

#include <cmath>

namespace uvm::detail {

std::uint64_t ns_of_us(double us) noexcept {
  return static_cast<std::uint64_t>(std::llround(us * 1e3));
}

namespace {

// Bytes at `gbps` (1e9 bytes a second): nanoseconds, rounded to the nearest.
std::uint64_t ns_of_bytes(double bytes, double gbps) noexcept {
  return static_cast<std::uint64_t>(std::llround(bytes / gbps));
}

double peak(const link_profile& l) noexcept {
  double best = 0;
  for (const auto& [bytes, gbps] : l.bandwidth) best = std::max(best, gbps);
  return best;
}

}  // namespace

void kernel_account::merge(kernel_account&& o) {
  launches += o.launches;
  faults += o.faults;
  access_bytes += o.access_bytes;
  remote_lines += o.remote_lines;
  peer_lines += o.peer_lines;
  if (fault_moves.empty()) {
    fault_moves = std::move(o.fault_moves);
  } else {
    fault_moves.insert(fault_moves.end(), o.fault_moves.begin(), o.fault_moves.end());
  }
}

kernel_cost cost_of(const device_profile& p, std::uint64_t page_size, kernel_account& a) {
  return cost_of(p, page_size, a, a.remote_lines, a.peer_lines);
}

kernel_cost cost_of(const device_profile& p, std::uint64_t page_size, kernel_account& a,
                    std::uint64_t remote_lines, std::uint64_t peer_lines) {
  kernel_cost c;
  c.launch = a.launches * ns_of_us(p.launch_us);
  c.compute = ns_of_bytes(static_cast<double>(a.access_bytes), p.memory_gbps);
  c.batches = (a.faults + p.fault_batch_size - 1) / p.fault_batch_size;
  c.fault_service = c.batches * (ns_of_us(p.fault_batch_us) + ns_of_us(p.publish_us)) +
                    a.faults * ns_of_us(p.fault_us);
  for_each_copy(a.fault_moves, page_size,
                [&](std::uint32_t, copy_direction d, std::uint64_t bytes) {
                  c.fault_copies += p.link(d).copy_ns(bytes);
                });
  if (remote_lines != 0) {
    c.remote += ns_of_us(p.remote_latency_us) +
                ns_of_bytes(static_cast<double>(remote_lines) * p.line_bytes, p.remote_gbps);
  }
  if (peer_lines != 0) {
    c.remote += ns_of_us(p.d2d.latency_us) +
                ns_of_bytes(static_cast<double>(peer_lines) * p.line_bytes, peak(p.d2d));
  }
  return c;
}

}  // namespace uvm::detail
