#pragma once

// A managed range wired to a fault service thread with a resolver of the test's choosing, so the
// service path can be driven without a device.

#include "host/coherence/managed_range.hpp"
#include "host/fault/service/fault_service.hpp"
#include "host/fault/sources/range_registry.hpp"
#include "host/telemetry/counters.hpp"
#include "host/telemetry/event_ring.hpp"
#include "tests/common/fault_mechanism.hpp"

#include <chrono>
#include <cstdint>
#include <memory>

namespace uvm::detail::testing {

struct fault_harness {
  fault_harness(fault_resolver& resolver, std::chrono::milliseconds timeout, std::size_t bytes,
                std::size_t page_size)
      : source(uvm::testing::test_fault_source()),
        service(resolver, events),
        range(fault_context{source.get(), &stats, &events, &service, timeout}, bytes, page_size) {
    const auto b = reinterpret_cast<std::uintptr_t>(range.base());
    range_registry::process().add(b, b + range.reserved(), &range);
  }
  ~fault_harness() { range_registry::process().remove(&range, std::chrono::seconds(30)); }

  /// Puts `page` in `s` as the migration layer would: claim, protect, publish.
  void set_state(std::size_t page, page_state s) {
    page_word w = range.pages().load(page);
    while (!range.pages().try_claim(page, w)) w &= ~busy_bit;
    (void)range.commit(page, w, s);
  }

  std::shared_ptr<view_protection> source;
  counters stats;
  event_ring events;
  fault_service service;
  managed_range range;
};

}  // namespace uvm::detail::testing
