#include "host/runtime.hpp"

#include "host/backend/device_probe.hpp"
#include "host/common/check.hpp"
#include "host/fault/range_registry.hpp"
#include "host/telemetry/log.hpp"
#include "host/telemetry/nvtx.hpp"

#include <uvm/manager.hpp>
#include <uvm/thread.hpp>

namespace uvm::detail {

int runtime::host_only_resolver::do_resolve(managed_range&, std::size_t, access) noexcept {
  return ENODEV;
}

runtime::runtime(config cfg)
    : cfg_((cfg.validate(), cfg)),
      backend_(resolve_backend(cfg_.backend)),
      source_(signal_fault_source::acquire()),
      service_(resolver_, events_),
      ctx_{source_.get(), &counters_, &events_, &service_, cfg_.fault_timeout} {
  set_log_level(cfg_.log);
  install_alt_stack();
  log().debug("manager started: page size {}, backend {}, fault mechanism {}, fault timeout {} ms",
              cfg_.page_size, to_string(backend_), source_->name(), cfg_.fault_timeout.count());
}

runtime::~runtime() {
  std::lock_guard lock(mutex_);
  while (!ranges_.empty()) destroy(ranges_.begin());
}

managed_range* runtime::allocate(std::size_t bytes) {
  UVM_NVTX_FUNC_RANGE();
  UVM_EXPECTS(bytes != 0, "uvm::manager::allocate: size 0 (a range holds at least one byte)");
  UVM_EXPECTS(bytes <= manager::max_allocation(),
              "uvm::manager::allocate: {} bytes is more than max_allocation() = {} bytes", bytes,
              manager::max_allocation());
  auto r = std::make_unique<managed_range>(ctx_, bytes, cfg_.page_size);
  const auto base = reinterpret_cast<std::uintptr_t>(r->base());
  range_registry::process().add(base, base + r->reserved(), r.get());
  managed_range* raw = r.get();
  {
    std::lock_guard lock(mutex_);
    ranges_.emplace(base, entry{std::move(r), false});
  }
  log().debug("allocated {} bytes at {:#x} ({} pages of {} bytes)", bytes, base, raw->page_count(),
              raw->page_size());
  return raw;
}

void runtime::destroy(std::map<std::uintptr_t, entry>::iterator it) noexcept {
  managed_range* r = it->second.range.get();
  // Wait for handlers still resolving faults in it: at most one fault timeout, plus slack.
  const auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(cfg_.fault_timeout) +
                    std::chrono::seconds(1);
  if (!range_registry::process().remove(r, wait)) {
    log().error(
        "range at {} is still in use by a fault handler after {} ms; leaking it rather "
        "than unmapping memory in use",
        static_cast<void*>(r->base()), wait.count());
    (void)it->second.range.release();
  }
  ranges_.erase(it);
}

void runtime::free(managed_range* r) noexcept {
  UVM_NVTX_FUNC_RANGE();
  std::lock_guard lock(mutex_);
  auto it = ranges_.find(reinterpret_cast<std::uintptr_t>(r->base()));
  if (it != ranges_.end()) destroy(it);
}

void runtime::release(managed_range* r) noexcept {
  std::lock_guard lock(mutex_);
  auto it = ranges_.find(reinterpret_cast<std::uintptr_t>(r->base()));
  if (it != ranges_.end()) it->second.released = true;
}

void runtime::free_released(void* base) {
  UVM_NVTX_FUNC_RANGE();
  std::lock_guard lock(mutex_);
  auto it = ranges_.find(reinterpret_cast<std::uintptr_t>(base));
  UVM_EXPECTS(it != ranges_.end(),
              "uvm::manager::free({}): not the start of a live range of this manager (freed "
              "twice, or never allocated here)",
              base);
  UVM_EXPECTS(it->second.released,
              "uvm::manager::free({}): the range is still owned by a uvm::range; destroy or "
              "reset() that object instead",
              base);
  destroy(it);
}

managed_range& runtime::find(const void* p) const {
  std::lock_guard lock(mutex_);
  auto it = ranges_.upper_bound(reinterpret_cast<std::uintptr_t>(p));
  if (it != ranges_.begin()) {
    --it;
    if (it->second.range->contains(p)) return *it->second.range;
  }
  throw_invalid("uvm: {} is not inside any live range of this manager", p);
}

stats runtime::snapshot() const {
  stats s = counters_.snapshot();
  std::lock_guard lock(mutex_);
  s.live_ranges = ranges_.size();
  for (const auto& [base, e] : ranges_) s.reserved_bytes += e.range->reserved();
  return s;
}

}  // namespace uvm::detail
