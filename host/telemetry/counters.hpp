#pragma once

// The live counters behind uvm::stats. Plain relaxed atomics: the signal handler updates them.

#include <uvm/detail/current_device.hpp>
#include <uvm/stats.hpp>

#include <array>
#include <atomic>
#include <bit>
#include <cstdint>

namespace uvm::detail {

/// The bucket of latency_histogram that `ns` falls in.
[[nodiscard]] inline std::size_t histogram_bucket(std::uint64_t ns) noexcept {
  return ns == 0
             ? 0
             : std::min<std::size_t>(std::bit_width(ns) - 1, latency_histogram::bucket_count - 1);
}

class atomic_histogram {
 public:
  void record(std::uint64_t ns) noexcept {
    buckets_[histogram_bucket(ns)].fetch_add(1, std::memory_order_relaxed);
    total_ns_.fetch_add(ns, std::memory_order_relaxed);
  }
  [[nodiscard]] latency_histogram snapshot() const noexcept {
    latency_histogram h;
    for (std::size_t i = 0; i < h.buckets.size(); ++i) {
      h.buckets[i] = buckets_[i].load(std::memory_order_relaxed);
    }
    h.total_ns = total_ns_.load(std::memory_order_relaxed);
    return h;
  }
  void reset() noexcept {
    for (auto& b : buckets_) b.store(0, std::memory_order_relaxed);
    total_ns_.store(0, std::memory_order_relaxed);
  }

 private:
  std::array<std::atomic<std::uint64_t>, latency_histogram::bucket_count> buckets_{};
  std::atomic<std::uint64_t> total_ns_{0};
};

class atomic_fault_stats {
 public:
  void record(std::uint64_t ns) noexcept {
    count_.fetch_add(1, std::memory_order_relaxed);
    latency_.record(ns);
  }
  [[nodiscard]] fault_stats snapshot() const noexcept {
    return {count_.load(std::memory_order_relaxed), latency_.snapshot()};
  }
  void reset() noexcept {
    count_.store(0, std::memory_order_relaxed);
    latency_.reset();
  }

 private:
  std::atomic<std::uint64_t> count_{0};
  atomic_histogram latency_;
};

// stats::device_stages and stats::serviced_stages, live.
struct atomic_device_stages {
  atomic_histogram queued, planned, issued, landed, published;
  [[nodiscard]] device_fault_stages snapshot() const noexcept {
    return {queued.snapshot(), planned.snapshot(), issued.snapshot(), landed.snapshot(),
            published.snapshot()};
  }
  void reset() noexcept {
    for (auto* h : {&queued, &planned, &issued, &landed, &published}) h->reset();
  }
};
struct atomic_cpu_stages {
  atomic_histogram queued, waited, copied, opened, woken;
  [[nodiscard]] cpu_fault_stages snapshot() const noexcept {
    return {queued.snapshot(), waited.snapshot(), copied.snapshot(), opened.snapshot(),
            woken.snapshot()};
  }
  void reset() noexcept {
    for (auto* h : {&queued, &waited, &copied, &opened, &woken}) h->reset();
  }
};

struct counters {
  atomic_fault_stats first_touch, upgrade, waited, serviced, device;
  atomic_device_stages device_stages;
  atomic_cpu_stages serviced_stages;
  std::atomic<std::uint64_t> spurious_faults{0};
  std::atomic<std::uint64_t> remote_mappings{0};
  std::atomic<std::uint64_t> evictions{0};
  std::atomic<std::uint64_t> prefetched_pages{0};
  std::atomic<std::uint64_t> discarded_pages{0};
  std::atomic<std::uint64_t> promoted_pages{0};
  std::atomic<std::uint64_t> thrashing_throttles{0};
  std::atomic<std::uint64_t> thrashing_pins{0};
  std::atomic<std::uint64_t> coarsened_blocks{0};
  std::atomic<std::uint64_t> cpu_fault_deferrals{0};
  std::atomic<std::uint64_t> bytes_host_to_device{0};
  std::atomic<std::uint64_t> bytes_device_to_host{0};
  std::atomic<std::uint64_t> bytes_device_to_device{0};

  /// uvm::device_stats, live.
  struct per_device {
    std::atomic<std::uint64_t> faults{0};
    std::atomic<std::uint64_t> bytes_from_host{0};
    std::atomic<std::uint64_t> bytes_to_host{0};
    std::atomic<std::uint64_t> bytes_from_devices{0};
    std::atomic<std::uint64_t> bytes_to_devices{0};
    std::atomic<std::uint64_t> evictions{0};
    std::atomic<std::uint64_t> remote_mappings{0};
    std::array<std::atomic<std::uint64_t>, max_devices> from_device{};  // by source device
    /// @throws std::bad_alloc
    [[nodiscard]] device_stats snapshot(std::size_t device_count) const {
      device_stats s{faults.load(std::memory_order_relaxed),
                     bytes_from_host.load(std::memory_order_relaxed),
                     bytes_to_host.load(std::memory_order_relaxed),
                     bytes_from_devices.load(std::memory_order_relaxed),
                     bytes_to_devices.load(std::memory_order_relaxed),
                     evictions.load(std::memory_order_relaxed),
                     remote_mappings.load(std::memory_order_relaxed),
                     {}};
      for (std::size_t o = 0; o < device_count && o < from_device.size(); ++o) {
        s.bytes_from_device.push_back(from_device[o].load(std::memory_order_relaxed));
      }
      return s;
    }
    void reset() noexcept {
      for (auto* c : {&faults, &bytes_from_host, &bytes_to_host, &bytes_from_devices,
                      &bytes_to_devices, &evictions, &remote_mappings}) {
        c->store(0, std::memory_order_relaxed);
      }
      for (auto& c : from_device) c.store(0, std::memory_order_relaxed);
    }
  };
  std::array<per_device, max_devices> devices;
  /// A remote (or peer) mapping made on device `d` (`n` = -1: one undone).
  void mapped_remote(std::uint32_t d, int n = 1) noexcept {
    remote_mappings.fetch_add(static_cast<std::uint64_t>(n), std::memory_order_relaxed);
    devices[d].remote_mappings.fetch_add(static_cast<std::uint64_t>(n), std::memory_order_relaxed);
  }

  /// The totals, and `device_count` devices' own.
  [[nodiscard]] stats snapshot(std::size_t device_count = 1) const {
    stats s;
    for (std::size_t d = 0; d < device_count && d < devices.size(); ++d) {
      s.devices.push_back(devices[d].snapshot(device_count));
    }
    s.first_touch = first_touch.snapshot();
    s.upgrade = upgrade.snapshot();
    s.waited = waited.snapshot();
    s.serviced = serviced.snapshot();
    s.device = device.snapshot();
    s.device_stages = device_stages.snapshot();
    s.serviced_stages = serviced_stages.snapshot();
    s.remote_mappings = remote_mappings.load(std::memory_order_relaxed);
    s.evictions = evictions.load(std::memory_order_relaxed);
    s.prefetched_pages = prefetched_pages.load(std::memory_order_relaxed);
    s.discarded_pages = discarded_pages.load(std::memory_order_relaxed);
    s.promoted_pages = promoted_pages.load(std::memory_order_relaxed);
    s.thrashing_throttles = thrashing_throttles.load(std::memory_order_relaxed);
    s.thrashing_pins = thrashing_pins.load(std::memory_order_relaxed);
    s.spurious_faults = spurious_faults.load(std::memory_order_relaxed);
    s.coarsened_blocks = coarsened_blocks.load(std::memory_order_relaxed);
    s.cpu_fault_deferrals = cpu_fault_deferrals.load(std::memory_order_relaxed);
    s.bytes_host_to_device = bytes_host_to_device.load(std::memory_order_relaxed);
    s.bytes_device_to_host = bytes_device_to_host.load(std::memory_order_relaxed);
    s.bytes_device_to_device = bytes_device_to_device.load(std::memory_order_relaxed);
    return s;
  }

  void reset() noexcept {
    for (auto* f : {&first_touch, &upgrade, &waited, &serviced, &device}) f->reset();
    device_stages.reset();
    serviced_stages.reset();
    for (per_device& d : devices) d.reset();
    for (auto* c : {&spurious_faults, &coarsened_blocks, &cpu_fault_deferrals,
                    &bytes_host_to_device, &bytes_device_to_host, &bytes_device_to_device,
                    &remote_mappings, &evictions, &prefetched_pages, &discarded_pages,
                    &promoted_pages, &thrashing_throttles, &thrashing_pins}) {
      c->store(0, std::memory_order_relaxed);
    }
  }
};

}  // namespace uvm::detail
