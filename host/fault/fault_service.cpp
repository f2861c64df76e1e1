#include "host/fault/fault_service.hpp"

#include "host/common/clock.hpp"
#include "host/common/futex.hpp"
#include "host/fault/map_budget.hpp"
#include "host/telemetry/log.hpp"

#include <algorithm>
#include <array>
#include <chrono>

#include <pthread.h>

namespace uvm::detail {

fault_service::fault_service(fault_resolver& resolver, event_ring& events)
    : resolver_(resolver), events_(events), thread_([this] { run(); }) {}

fault_service::~fault_service() {
  stop_.store(true, std::memory_order_release);
  doorbell_.fetch_add(1, std::memory_order_release);
  futex_wake_all(doorbell_);
  thread_.join();
  drain_events();
}

bool fault_service::submit(fault_request& r) noexcept {
  if (!queue_.try_push(&r)) return false;
  doorbell_.fetch_add(1, std::memory_order_release);
  futex_wake_all(doorbell_);
  return true;
}

void fault_service::run() {
  pthread_setname_np(pthread_self(), "uvm-fault");
  using namespace std::chrono_literals;
  while (!stop_.load(std::memory_order_acquire)) {
    const std::uint32_t seen = doorbell_.load(std::memory_order_acquire);
    serve_batch();
    drain_events();
    // Sleep until the next submit; wake now and then to log events the handler recorded.
    futex_wait_until(doorbell_, seen, deadline_after(50ms));
  }
  serve_batch();  // nothing submitted before stop is left waiting
}

void fault_service::serve_batch() {
  std::array<fault_request*, max_batch> batch;
  for (;;) {
    std::size_t n = 0;
    while (n < batch.size() && queue_.try_pop(batch[n])) ++n;
    if (n == 0) return;
    UVM_NVTX_FUNC_RANGE();
    // Address order, as the copy engine prefers; requests for one page are served once, and
    // the others find the page resolved when they retry.
    // Writes sort first within a page, so the most intrusive access is the one resolved.
    std::sort(batch.begin(), batch.begin() + n, [](const auto* a, const auto* b) {
      if (a->range != b->range) return a->range < b->range;
      if (a->page != b->page) return a->page < b->page;
      return a->kind > b->kind;
    });
    int err = 0;
    for (std::size_t i = 0; i < n; ++i) {
      fault_request& r = *batch[i];
      const bool same_page =
          i > 0 && batch[i - 1]->range == r.range && batch[i - 1]->page == r.page;
      if (!same_page) err = resolver_.resolve(*r.range, r.page, r.kind);
      r.error = err;
      r.status.store(err == 0 ? fault_request::done : fault_request::failed,
                     std::memory_order_release);
      futex_wake_all(r.status);
    }
  }
}

void fault_service::drain_events() {
  event e{};
  while (events_.pop(e)) {
    switch (e.kind) {
      case event_kind::coarsened:
        if (!warned_coarsening_) {
          warned_coarsening_ = true;
          log().warn(
              "the ranges' protection changes reached the mapping budget ({} of "
              "vm.max_map_count = {}); faults now resolve whole 2 MiB blocks at a time",
              map_budget::process().limit(), map_budget::max_map_count());
        }
        log().debug("coarsened {} bytes at {:#x}", e.value, e.address);
        break;
    }
  }
}

}  // namespace uvm::detail
