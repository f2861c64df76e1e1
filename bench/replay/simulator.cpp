#include "bench/replay/simulator.hpp"

#include "bench/replay/belady.hpp"
#include "bench/replay/static_oracle.hpp"
#include "host/common/check.hpp"
#include "host/model/kernel_cost.hpp"

#include <algorithm>
#include <memory>
#include <span>
#include <stdexcept>
#include <unordered_map>
#include <unordered_set>
#include <vector>

namespace uvm::replay {
namespace {

using detail::page_ref;

constexpr std::size_t block_bytes = std::size_t{2} << 20;  // prefetch never crosses 2 MiB
constexpr std::uint64_t decay_every = 1u << 16;            // records between detector decays

// evicted_bit: the page left by eviction, and its next move in is a capacity miss, not a side
// change: neither counts towards thrashing (a loop too big for the device is not ping-pong).
// The device that holds a resident page: bits 4-6.
enum : std::uint8_t {
  resident_bit = 1,
  dirty_bit = 2,
  batch_bit = 4,
  evicted_bit = 8,
  device_shift = 4,
  device_mask = 0x70
};
static_assert(detail::max_devices <= 8, "a page's device fits in 3 bits");

constexpr std::uint32_t device_of(std::uint8_t s) noexcept {
  return static_cast<std::uint32_t>(s & device_mask) >> device_shift;
}
constexpr std::uint8_t device_bits(std::uint32_t d) noexcept {
  return static_cast<std::uint8_t>(d << device_shift);
}

class engine {
 public:
  /// One eviction policy per device of the trace.
  engine(const trace& t, const sim_options& o, std::span<detail::eviction_policy* const> ev,
         detail::prefetch_policy& pf)
      : t_(t), o_(o), pf_(pf), detector_(o.thrashing) {
    UVM_EXPECTS(o.budget_pages > 0, "replay: the device budget must be at least one page");
    UVM_EXPECTS(o.ns_per_record > 0, "replay: ns_per_record must be positive");
    validate_trace(t);
    UVM_EXPECTS(ev.size() == device_count(t),
                "replay: the trace names {} devices and {} eviction policies were given",
                device_count(t), ev.size());
    for (detail::eviction_policy* e : ev) {
      UVM_EXPECTS(e->size() == 0, "replay: eviction policy '{}' already tracks {} pages", e->name(),
                  e->size());
      devices_.push_back({e, dynamic_cast<trace_position_hook*>(e), 0});
    }
    block_pages_ = std::max<std::size_t>(1, block_bytes / t.page_size);
    r_.eviction = std::string(ev.front()->name());
    r_.prefetch = std::string(pf.name());
    r_.budget_pages = o.budget_pages;
    r_.page_size = t.page_size;
    r_.devices = static_cast<std::uint32_t>(ev.size());
    r_.modelled_ns.assign(o.models.size(), 0);
  }

  sim_result run() {
    for (std::size_t i = 0; i < t_.records.size(); ++i) {
      for (const device& d : devices_) {
        if (d.hook != nullptr) d.hook->advance(i);
      }
      now_ = static_cast<std::uint64_t>(i) * o_.ns_per_record;
      const trace_record& rec = t_.records[i];
      switch (rec.kind) {
        case trace_kind::range: declare(rec); break;
        case trace_kind::epoch:
          ++r_.epochs;
          charge_epoch();
          epoch_.launches = 1;
          break;
        case trace_kind::device_access: on_device(rec); break;
        case trace_kind::cpu_access: on_cpu(rec); break;
      }
      if (i % decay_every == decay_every - 1) detector_.decay(now_);
    }
    charge_epoch();
    r_.records = t_.records.size();
    r_.thrashing_throttles = detector_.throttles();
    r_.thrashing_pins = detector_.pins();
    return r_;
  }

 private:
  std::uint8_t& state(page_ref p) { return ranges_.at(p.range_id)[p.page]; }

  // Takes a resident page off its device (no bytes: the caller counts the move).
  void release(page_ref p, std::uint8_t s) {
    device& d = devices_[device_of(s)];
    --d.resident;
    d.ev->on_released(p);
  }

  void declare(const trace_record& rec) {
    std::vector<std::uint8_t>& pages = ranges_[rec.range_id];
    for (std::size_t q = 0; q < pages.size(); ++q) {
      if (pages[q] & resident_bit) release({rec.range_id, static_cast<std::uint32_t>(q)}, pages[q]);
    }
    pages.assign(rec.value, 0);
  }

  // The device model: the epoch so far as one kernel.
  void charge_epoch() {
    if (o_.models.empty()) return;
    if (epoch_.launches != 0 || epoch_.faults != 0 || epoch_.access_bytes != 0) {
      for (std::size_t m = 0; m < o_.models.size(); ++m) {
        r_.modelled_ns[m] += detail::cost_of(o_.models[m], t_.page_size, epoch_).total();
      }
    }
    epoch_ = {};
  }
  void model_move(page_ref p, copy_direction dir, std::uint32_t d) {
    if (!o_.models.empty()) epoch_.fault_moves.push_back({p.range_id, p.page, dir, d});
  }

  void on_device(const trace_record& rec) {
    ++r_.device_accesses;
    if (!o_.models.empty()) epoch_.access_bytes += t_.page_size;
    const page_ref p{rec.range_id, rec.page};
    std::vector<std::uint8_t>& pages = ranges_.at(rec.range_id);
    const std::uint8_t s = pages[rec.page];
    if ((s & resident_bit) != 0 && device_of(s) == rec.device) {
      devices_[rec.device].ev->on_access(p);
    } else if (pinned(p)) {
      // As the runtime does: a page pinned for thrashing stays where it is (the host, or another
      // device), mapped remote or from the peer.
    } else {
      ++r_.device_faults;
      ++epoch_.faults;
      fault(rec.device, p, pages);
    }
    if (rec.access != 0) pages[rec.page] |= dirty_bit;
  }

  void fault(std::uint32_t d, page_ref p, std::vector<std::uint8_t>& pages) {
    detail::block_state block;
    block.first_page = p.page / block_pages_ * block_pages_;
    block.page_count = std::min(block_pages_, pages.size() - block.first_page);
    block.page_bytes = t_.page_size;
    block.resident = [&](std::size_t q) { return (pages[q] & resident_bit) != 0; };
    block.thrashing = [&](std::size_t q) {
      return detector_.thrashing(page_ref{p.range_id, static_cast<std::uint32_t>(q)}, now_);
    };
    extra_.clear();
    pf_.expand(p.page, block, extra_);

    batch_.clear();
    bring_in(d, p, /*prefetched=*/false);
    for (std::size_t k = 0; k < extra_.size(); ++k) {
      const page_ref q{p.range_id, static_cast<std::uint32_t>(extra_[k])};
      if (state(q) & resident_bit)
        continue;  // the policy broke its contract; moving twice would too
      if (!bring_in(d, q, /*prefetched=*/true)) {
        r_.prefetch_dropped += extra_.size() - k;
        break;
      }
      ++r_.prefetched_pages;
    }
    for (const page_ref b : batch_) state(b) &= static_cast<std::uint8_t>(~batch_bit);
  }

  /// Moves `p` to device `d` (from the host, or from the device that holds it), evicting if
  /// needed. @return false (nothing moved) if a prefetched page would evict a page of its own
  /// batch.
  bool bring_in(std::uint32_t d, page_ref p, bool prefetched) {
    device& to = devices_[d];
    if (to.resident == o_.budget_pages) {
      const std::optional<page_ref> v = to.ev->victim();
      if (!v)
        throw std::logic_error("replay: eviction policy named no victim with every frame used");
      std::uint8_t& vs = state(*v);
      if (!(vs & resident_bit)) {
        throw std::logic_error("replay: eviction policy named a page that is not resident");
      }
      if (vs & batch_bit) {
        if (!prefetched) throw std::logic_error("replay: victim is in an empty batch");
        return false;
      }
      ++r_.evictions;
      if (vs & dirty_bit) r_.bytes_d2h += t_.page_size;
      if (vs & dirty_bit) model_move(*v, copy_direction::device_to_host, d);
      vs = evicted_bit;
      --to.resident;
      to.ev->on_released(*v);
    }
    std::uint8_t& s = state(p);
    const bool refetch = (s & evicted_bit) != 0;
    if ((s & resident_bit) != 0) {
      // Device to device: the data (and whether the host's copy is stale) goes with the page.
      release(p, s);
      ++r_.migrations_d2d;
      r_.bytes_d2d += t_.page_size;
      model_move(p, copy_direction::device_to_device, d);
      s = static_cast<std::uint8_t>(resident_bit | batch_bit | (s & dirty_bit) | device_bits(d));
    } else {
      ++r_.migrations_h2d;
      r_.bytes_h2d += t_.page_size;
      model_move(p, copy_direction::host_to_device, d);
      s = static_cast<std::uint8_t>(resident_bit | batch_bit | device_bits(d));
    }
    ++to.resident;
    batch_.push_back(p);
    to.ev->on_resident(p);
    if (!refetch) note_migration(p);
    return true;
  }

  void on_cpu(const trace_record& rec) {
    ++r_.cpu_accesses;
    const page_ref p{rec.range_id, rec.page};
    std::uint8_t& s = state(p);
    if (!(s & resident_bit)) return;  // the CPU holds it
    ++r_.cpu_faults;
    ++r_.migrations_d2h;
    if (s & dirty_bit) r_.bytes_d2h += t_.page_size;
    for (std::size_t m = 0; m < o_.models.size(); ++m) {
      const device_profile& dp = o_.models[m];
      r_.modelled_ns[m] += detail::ns_of_us(dp.cpu_fault_us) +
                           ((s & dirty_bit) != 0 ? dp.d2h.copy_ns(t_.page_size) : 0);
    }
    release(p, s);
    s = 0;
    note_migration(p);
  }

  void note_migration(page_ref p) {
    if (detector_.on_migration(p, now_) == detail::thrashing_detector::verdict::pin_remote) {
      pinned_.insert(p);
    }
  }

  bool pinned(page_ref p) {
    if (!pinned_.contains(p)) return false;
    if (detector_.thrashing(p, now_)) return true;
    pinned_.erase(p);  // quiet: normal again
    return false;
  }

  struct device {
    detail::eviction_policy* ev;
    trace_position_hook* hook;  // null unless the policy knows the future
    std::size_t resident;
  };

  const trace& t_;
  const sim_options& o_;
  std::vector<device> devices_;
  detail::prefetch_policy& pf_;
  detail::thrashing_detector detector_;
  std::unordered_set<page_ref, detail::page_ref_hash> pinned_;
  std::size_t block_pages_ = 1;
  std::unordered_map<std::uint32_t, std::vector<std::uint8_t>> ranges_;
  std::uint64_t now_ = 0;
  std::vector<std::size_t> extra_;
  std::vector<page_ref> batch_;
  detail::kernel_account epoch_;  // the device model's account of the epoch so far
  sim_result r_;
};

}  // namespace

sim_result simulate(const trace& t, const sim_options& o, detail::eviction_policy& eviction,
                    detail::prefetch_policy& prefetch) {
  detail::eviction_policy* const one[] = {&eviction};
  return engine(t, o, one, prefetch).run();
}

sim_result simulate(const trace& t, const sim_options& o) {
  validate_trace(t);
  std::vector<std::unique_ptr<detail::eviction_policy>> owned;
  std::vector<detail::eviction_policy*> ev;
  for (std::uint32_t d = 0; d < device_count(t); ++d) {
    const auto device = static_cast<std::uint16_t>(d);
    if (o.eviction == "min" || o.eviction == "belady") {
      owned.push_back(std::make_unique<belady_eviction>(t, device));
    } else if (o.eviction == "a0") {
      owned.push_back(std::make_unique<static_oracle>(t, device));
    } else {
      owned.push_back(detail::make_eviction_policy(o.eviction));
    }
    ev.push_back(owned.back().get());
  }
  const auto pf = detail::make_prefetch_policy(o.prefetch, o.prefetch_config);
  return engine(t, o, ev, *pf).run();
}

}  // namespace uvm::replay
