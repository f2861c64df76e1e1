// device-model: the device model (uvm/device_model.hpp) against published results it was not
// fitted to, on the emulated device (always: the model times the emulated device's events), on
// each shipped profile or on those UVM_DEVICE_MODEL names. docs/device-model.md puts these beside
// the published figures.
//
//  (a) streaming, everything fitting (half the device): a kernel that reads every element once,
//      with the driver's paging (faults, tree prefetch) against an explicit prefetch of the whole
//      range on the kernel's stream before it (`explicit prefetch`: ratio = its speed over
//      paging's), and that prefetch's copies against one cudaMemcpyAsync of the same bytes
//      (`prefetch vs memcpy`: ratio = prefetch time / memcpy time).
//  (b) NVIDIA's oversubscription study (the uvm_oversubs sample): the patterns `streaming`
//      (grid-stride), `block_streaming` (each block a contiguous chunk) and `random_warp` (each
//      warp reads one random 128-byte line), at 0.5x and 1.5x the device's memory, each with
//      `page_fault` (data on the host, the driver's paging), `zero_copy` (preferred location the
//      host, accessed by the device: every access over the link) and `prefetch_hints` (accessed
//      by the device, as much as fits prefetched before the kernel, the rest read over the link).
//      Value: the kernel's modelled bandwidth (bytes of the array / modelled time); ratio: against
//      `page_fault` on the same pattern, size and profile.
//
// Every run checks its kernel's sum against the host's.

#include "bench/suite.hpp"

#include <uvm/uvm.hpp>

#include <atomic>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

namespace bench {

namespace {

constexpr const char* suite_name = "device-model";
constexpr std::size_t page_size = std::size_t{64} << 10;
constexpr std::size_t line_words = 128 / sizeof(std::uint64_t);

enum class pattern { streaming, block_streaming, random_warp };
enum class mode { page_fault, zero_copy, prefetch_hints, explicit_prefetch };

const char* name_of(pattern p) {
  return p == pattern::streaming         ? "streaming"
         : p == pattern::block_streaming ? "block_streaming"
                                         : "random_warp";
}
const char* name_of(mode m) {
  return m == mode::page_fault       ? "page_fault"
         : m == mode::zero_copy      ? "zero_copy"
         : m == mode::prefetch_hints ? "prefetch_hints"
                                     : "explicit prefetch";
}

std::uint64_t mix(std::uint64_t x) {
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdULL;
  x ^= x >> 33;
  return x;
}

struct outcome {
  std::vector<uvm::modelled_time> modelled;  // the timed part, one per profile
};

// One run: an array of `bytes`, a device of `budget` bytes, the pattern under the mode.
outcome run_one(pattern p, mode m, std::size_t bytes, std::size_t budget) {
  uvm::config cfg = uvm::config::from_env();
  cfg.backend = uvm::backend_kind::emulated;
  cfg.emulated_devices = 1;
  cfg.page_size = page_size;
  cfg.device_budget = budget;
  cfg.prefetch = uvm::prefetch_kind::tree;  // the driver's prefetcher
  cfg.eviction = uvm::eviction_kind::fifo;  // what the driver effectively does
  cfg.trace_path.clear();
  if (cfg.device_model.empty()) cfg.device_model = "all";
  uvm::manager mgr(cfg);
  const std::size_t n = bytes / sizeof(std::uint64_t);
  auto v = mgr.allocate<std::uint64_t>(n);
  std::uint64_t* host = v.data();
  for (std::size_t i = 0; i < n; ++i) host[i] = i & 0xff;  // on the host, written
  if (m == mode::zero_copy) {
    mgr.advise(host, bytes, uvm::advice::set_preferred_location, uvm::location::host());
  }
  if (m == mode::zero_copy || m == mode::prefetch_hints) {
    mgr.advise(host, bytes, uvm::advice::set_accessed_by, uvm::location::device());
  }
  const uvm::stream s = mgr.create_stream("kernel");
  if (m == mode::prefetch_hints) {
    // As much as fits, before the timed kernel (the sample prefetches once, before timing).
    mgr.prefetch(host, std::min(bytes, budget - page_size), uvm::location::device(), s);
    mgr.synchronize(s);
  }
  mgr.reset_stats();
  if (m == mode::explicit_prefetch) mgr.prefetch(host, bytes, uvm::location::device(), s);
  const auto view = v.const_view();
  std::atomic<std::uint64_t> sum{0};
  std::uint64_t expect = 0;
  const std::size_t lines = n / line_words;
  switch (p) {
    case pattern::streaming:
    case pattern::block_streaming: {
      // Streaming: lane i takes elements i, i + L, ... (grid-stride over L lanes); block
      // streaming: lane i a contiguous chunk. The same elements, in another order.
      const std::size_t lanes = 4096;
      const bool blocked = p == pattern::block_streaming;
      mgr.parallel_for(
          lanes,
          [=, &sum](std::size_t lane) {
            std::uint64_t acc = 0;
            const std::size_t chunk = n / lanes;
            for (std::size_t k = 0; k < chunk; ++k) {
              acc += view.load(blocked ? lane * chunk + k : k * lanes + lane);
            }
            sum += acc;
          },
          s);
      for (std::size_t i = 0; i < n / lanes * lanes; ++i) expect += i & 0xff;
      break;
    }
    case pattern::random_warp: {
      // Each "warp" reads one random line, as 32 lanes of 4 bytes do (16 words here): as many
      // lines as the array has, so as many bytes as the streaming patterns read.
      mgr.parallel_for(
          lines,
          [=, &sum](std::size_t w) {
            const std::size_t line = mix(w) % lines;
            std::uint64_t acc = 0;
            for (std::size_t k = 0; k < line_words; ++k) acc += view.load(line * line_words + k);
            sum += acc;
          },
          s);
      for (std::size_t w = 0; w < lines; ++w) {
        const std::size_t line = mix(w) % lines;
        for (std::size_t k = 0; k < line_words; ++k) expect += (line * line_words + k) & 0xff;
      }
      break;
    }
  }
  mgr.synchronize(s);
  if (sum.load() != expect) {
    throw std::runtime_error(std::string("device-model: ") + name_of(p) + "/" + name_of(m) +
                             " summed " + std::to_string(sum.load()) + ", expected " +
                             std::to_string(expect));
  }
  return {mgr.stats().modelled};
}

record make_record(std::string name, std::string unit, double value) {
  record r;
  r.suite = suite_name;
  r.name = std::move(name);
  r.unit = std::move(unit);
  r.value = value;
  r.samples = 1;
  return r;
}

double gbps(std::size_t bytes, std::chrono::nanoseconds t) {
  return t.count() > 0 ? static_cast<double>(bytes) / static_cast<double>(t.count()) : 0;
}

std::vector<record> run(const options& opt) {
  const std::size_t device = (opt.quick ? std::size_t{16} : std::size_t{64}) << 20;
  std::vector<record> out;

  // (a) streaming, fitting: paging against an explicit prefetch, and the prefetch against memcpy.
  {
    const std::size_t bytes = device / 2;
    const outcome paging = run_one(pattern::streaming, mode::page_fault, bytes, device);
    const outcome prefetched = run_one(pattern::streaming, mode::explicit_prefetch, bytes, device);
    for (std::size_t i = 0; i < paging.modelled.size(); ++i) {
      const std::string& profile = paging.modelled[i].profile;
      record base = make_record("streaming/page_fault x0.5 @" + profile, "modelled GB/s",
                                gbps(bytes, paging.modelled[i].total));
      record r = make_record("streaming/explicit prefetch x0.5 @" + profile, "modelled GB/s",
                             gbps(bytes, prefetched.modelled[i].total));
      r.compare_to(base);
      r.params = {{"profile", profile}, {"bytes", static_cast<std::int64_t>(bytes)}};
      base.params = r.params;
      out.push_back(std::move(base));
      out.push_back(std::move(r));
      // One cudaMemcpyAsync of the same bytes on that profile's link.
      const uvm::device_profile dp = uvm::device_profile::load(profile);
      record memcpy_rec = make_record("one memcpy @" + profile, "modelled us",
                                      static_cast<double>(dp.h2d.copy_ns(bytes)) / 1e3);
      record prefetch_rec =
          make_record("prefetch vs memcpy @" + profile, "modelled us",
                      static_cast<double>(prefetched.modelled[i].stream_copies.count()) / 1e3);
      prefetch_rec.compare_to(memcpy_rec);
      prefetch_rec.params = {{"profile", profile}, {"bytes", static_cast<std::int64_t>(bytes)}};
      out.push_back(std::move(prefetch_rec));
    }
  }

  // (b) the oversubscription study's patterns and modes.
  for (const double factor : {0.5, 1.5}) {
    const auto bytes = static_cast<std::size_t>(static_cast<double>(device) * factor);
    const std::string size = factor < 1 ? " x0.5" : " x1.5";
    for (const pattern p : {pattern::streaming, pattern::block_streaming, pattern::random_warp}) {
      std::vector<std::vector<record>> by_mode;
      for (const mode m : {mode::page_fault, mode::zero_copy, mode::prefetch_hints}) {
        const outcome o = run_one(p, m, bytes, device);
        std::vector<record> recs;
        for (const uvm::modelled_time& t : o.modelled) {
          record r =
              make_record(std::string(name_of(p)) + "/" + name_of(m) + size + " @" + t.profile,
                          "modelled GB/s", gbps(bytes, t.total));
          r.params = {
              {"profile", t.profile},
              {"bytes", static_cast<std::int64_t>(bytes)},
              {"device_bytes", static_cast<std::int64_t>(device)},
              {"device_faults", static_cast<std::int64_t>(t.device_faults)},
              {"fault_ms", static_cast<double>((t.fault_service + t.fault_copies).count()) / 1e6},
              {"remote_ms", static_cast<double>(t.remote.count()) / 1e6}};
          recs.push_back(std::move(r));
        }
        by_mode.push_back(std::move(recs));
      }
      for (std::size_t k = 0; k < by_mode.size(); ++k) {
        for (std::size_t i = 0; i < by_mode[k].size(); ++i) {
          if (k > 0) by_mode[k][i].compare_to(by_mode[0][i]);
          out.push_back(by_mode[k][i]);
        }
      }
    }
  }
  return out;
}

const suite_registration registration{
    suite_name,
    "the device model against published results: streaming with paging vs an explicit "
    "prefetch, prefetch vs one memcpy, and NVIDIA's oversubscription patterns (streaming, block "
    "streaming, random warp) x page faults, zero-copy, prefetch with hints at 0.5x and 1.5x; "
    "modelled on each shipped profile",
    run};

}  // namespace

}  // namespace bench
