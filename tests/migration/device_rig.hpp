#pragma once

// A migrator wired to a backend and to the CPU fault path as the runtime wires them, so tests can
// call the migrator directly, run kernels on the emulated device and touch ranges from the CPU.
// The backend and the fault source may be the test's own (decorators that inject failures).

#include "host/backend/emulated/emulated_backend.hpp"
#include "host/coherence/managed_range.hpp"
#include "host/fault/service/fault_service.hpp"
#include "host/fault/sources/range_registry.hpp"
#include "host/migration/migrator.hpp"
#include "host/telemetry/counters.hpp"
#include "host/telemetry/event_ring.hpp"
#include "tests/common/fault_mechanism.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <span>
#include <thread>
#include <vector>

namespace uvm::detail {

inline constexpr std::size_t page_bytes = 64 << 10;
inline constexpr std::size_t words_per_page = page_bytes / 4;

// The migrator as the fault service sees it, with what a test cannot read from the migrator:
// how many CPU batches left faults waiting for kernels (their pages then hold launches back).
class resolver_tap final : public fault_resolver {
 public:
  explicit resolver_tap(fault_resolver& inner) : inner_(inner) {}
  /// CPU batches after which some faults waited for kernels in flight (counted once the
  /// resolver holds launches back for them).
  [[nodiscard]] std::uint64_t waiting_batches() const noexcept { return waiting_batches_.load(); }

 private:
  int do_resolve(managed_range& r, std::size_t page, access a) noexcept override {
    return inner_.resolve(r, page, a);
  }
  void do_resolve_device(std::span<const fault_record> batch) noexcept override {
    inner_.resolve_device(batch);
  }
  bool do_poll() noexcept override { return inner_.poll(); }
  void do_cpu_faults_waiting(bool waiting) noexcept override {
    inner_.cpu_faults_waiting(waiting);
    if (waiting) waiting_batches_.fetch_add(1);
  }

  fault_resolver& inner_;
  std::atomic<std::uint64_t> waiting_batches_{0};
};

struct device_rig {
  /// `b` and `src`, if given, replace the rig's emulated backend and the process's signal fault
  /// source (which still catches the faults: only protections go through `src`).
  explicit device_rig(std::size_t frames,
                      std::chrono::nanoseconds timeout = std::chrono::seconds(10),
                      backend* b = nullptr, view_protection* src = nullptr)
      : dev(b != nullptr ? *b : own_backend),
        source(uvm::testing::test_fault_source()),
        mig(dev, stats, migrator::settings{page_bytes, frames * page_bytes, timeout}),
        tap(mig),
        service(tap, events),
        ctx{src != nullptr ? src : source.get(), &stats, &events, &service, timeout},
        control(static_cast<mailbox_control*>(dev.allocate_device(sizeof(mailbox_control)))) {
    mig.set_mailbox(static_cast<fault_mailbox*>(dev.register_host(
                        &service.mailbox(), sizeof(fault_mailbox), host_registration::read_write)),
                    control);
  }
  ~device_rig() {
    (void)mig.wait_kernels(std::chrono::seconds(10));
    for (auto& r : ranges) {
      (void)range_registry::process().remove(r.get(), std::chrono::seconds(30));
      mig.detach(*r);
    }
    ranges.clear();
    service.stop();
    dev.unregister_host(&service.mailbox());
    dev.free_device(control);
  }
  device_rig(const device_rig&) = delete;
  device_rig& operator=(const device_rig&) = delete;

  managed_range& allocate(std::size_t pages) {
    auto r = std::make_unique<managed_range>(ctx, pages * page_bytes, page_bytes);
    mig.attach(*r);
    const auto b = reinterpret_cast<std::uintptr_t>(r->base());
    range_registry::process().add(b, b + r->reserved(), r.get());
    ranges.push_back(std::move(r));
    return *ranges.back();
  }

  /// One kernel, in its own epoch, on the compute stream.
  void launch(std::size_t n, kernel_body body) {
    const auto t = mig.begin_launch(mig.default_stream(), {}, false);
    dev.launch(n, std::move(body), mig.default_stream());
    mig.end_launch(t, dev.record(mig.default_stream()));
  }
  /// A kernel in its own epoch on `s` that may use `uses` (every page unless `declared`) and
  /// runs until `release` is set, `bound` at most.
  void launch_until_released(const stream& s, std::span<const page_use> uses, bool declared,
                             const std::atomic<bool>& release, std::chrono::nanoseconds bound) {
    const auto t = mig.begin_launch(s, uses, declared);
    dev.launch(
        1,
        [&release, bound](std::size_t, std::size_t) {
          const auto end = std::chrono::steady_clock::now() + bound;
          while (!release && std::chrono::steady_clock::now() < end) std::this_thread::yield();
        },
        s);
    mig.end_launch(t, dev.record(s));
  }
  void synchronize() { ASSERT_TRUE(mig.wait_kernels(std::chrono::seconds(10))); }

  emulated_backend own_backend;
  backend& dev;
  counters stats;
  event_ring events;
  std::shared_ptr<view_protection> source;
  migrator mig;
  resolver_tap tap;  // between the migrator and the service
  fault_service service;
  fault_context ctx;
  mailbox_control* control;
  std::vector<std::unique_ptr<managed_range>> ranges;
};

}  // namespace uvm::detail
