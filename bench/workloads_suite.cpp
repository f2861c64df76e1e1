// workloads: the real algorithms of kernels/workloads/ on managed memory, each at a device
// budget of 50% and 75% of its footprint and, as the baseline in the same run, with the whole
// footprint resident (budget above the footprint, everything prefetched before the clock
// starts). Per run: wall time of the algorithm (setup and its CPU reference excluded), device
// and CPU faults, bytes each way, evictions, remote mappings, prefetched and promoted pages,
// thrashing throttles and pins; slowdown = oversubscribed / resident. Every run checks its result
// against the CPU reference and the suite fails on a wrong one. Policies come from the environment
// (UVM_EVICTION, UVM_PREFETCH...); with --trace-dir each run records its page-access trace
// (`<workload>-<budget>.trc`) for uvm-replay. 4 KiB pages.
//
// On the emulated device, each workload also runs split across two devices (every kernel in two
// bands, one per device: workload::run_on), everything fitting on each device and nothing
// prefetched, against the same run on one device as its baseline: `<workload>/2 devices` vs
// `<workload>/1 device`. The cost of the split (halos mapped from the peer or moved device to
// device, faults on both) shows in its slowdown and its bytes_device_to_device.
//
// On the emulated device every run is made again with the device model on each shipped profile,
// or on those UVM_DEVICE_MODEL names (uvm/device_model.hpp): `<workload>/<budget> @<profile>` is
// that run's modelled time, against the modelled time of its baseline run (the slowdown a GPU of
// that profile would see). Apart, because counting every access slows the emulated kernels: the
// wall-clock records are of runs without a model.
//
// Compiled by nvcc in CUDA builds, so on a GPU the kernels are real ones (uvm::launch).

#include "bench/suite.hpp"
#include "bench/timing.hpp"
#include "kernels/workloads/workloads.hpp"

#include <uvm/uvm.hpp>

#include <algorithm>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

namespace bench {

namespace {

constexpr std::size_t page_size = 4096;

struct budget {
  const char* label;  // in record names and trace files
  int percent;        // of the footprint; 100: everything resident and prefetched
  int devices = 1;
  bool split = false;  // run_on one stream per device, nothing prefetched, no trace
};
constexpr budget budgets[] = {{"resident", 100}, {"75%", 75}, {"50%", 50}};
constexpr budget split[] = {{"1 device", 100, 1, true}, {"2 devices", 100, 2, true}};

std::string trace_file(const options& opt, std::string_view workload, int percent) {
  if (opt.trace_dir.empty()) return {};
  return opt.trace_dir + "/" + std::string(workload) + "-" + std::to_string(percent) + ".trc";
}

struct measured {
  record wall;
  std::vector<uvm::modelled_time> modelled;  // one per shipped profile on the emulated device
};

measured measure(std::string_view name, const uvm::workloads::workload_size& z, std::size_t bytes,
                 const budget& b, const options& opt, bool modelled) {
  uvm::config cfg = uvm::config::from_env();
  if (!modelled) {
    cfg.device_model.clear();
  } else if (cfg.device_model.empty()) {  // UVM_DEVICE_MODEL, if set, names the profiles
    cfg.device_model = "all";
  }
  cfg.page_size = page_size;
  const std::size_t pages = bytes / page_size;
  cfg.device_budget = b.percent >= 100
                          ? (pages + 64) * page_size
                          : std::max<std::size_t>(1, pages * b.percent / 100) * page_size;
  cfg.trace_path = b.split || modelled ? std::string() : trace_file(opt, name, b.percent);
  cfg.emulated_devices = static_cast<unsigned>(b.devices);
  uvm::manager mgr(cfg);
  auto w = uvm::workloads::make_workload(name, z);
  w->setup(mgr);
  std::vector<uvm::stream> on;
  for (int d = 0; d < b.devices; ++d) on.push_back(mgr.create_stream("workload", d));
  if (b.percent >= 100 && !b.split) {
    for (const uvm::range* r : w->ranges()) mgr.prefetch(*r, uvm::location::device(), on[0]);
    mgr.synchronize(on[0]);
  }
  mgr.reset_stats();
  const std::uint64_t t0 = now_ns();
  w->run_on(mgr, on);
  const std::uint64_t t1 = now_ns();
  const uvm::stats st = mgr.stats();
  if (const std::string wrong = w->check(); !wrong.empty()) {
    throw std::runtime_error("workloads: " + std::string(name) + " at " + b.label +
                             " gave a wrong result: " + wrong);
  }
  const auto i64 = [](std::uint64_t v) { return static_cast<std::int64_t>(v); };
  record r;
  r.suite = "workloads";
  r.name = std::string(name) + "/" + b.label;
  r.unit = "ms";
  r.value = static_cast<double>(t1 - t0) / 1e6;
  r.samples = 1;
  r.params = {{"workload", std::string(name)},
              {"scale", static_cast<std::int64_t>(z.scale)},
              {"page_size", static_cast<std::int64_t>(page_size)},
              {"footprint_bytes", i64(bytes)},
              {"budget_percent", static_cast<std::int64_t>(b.percent)},
              {"devices", static_cast<std::int64_t>(b.devices)},
              {"budget_bytes", i64(cfg.device_budget)},
              {"eviction", std::string(uvm::to_string(mgr.configuration().eviction))},
              {"prefetch", std::string(uvm::to_string(mgr.configuration().prefetch))},
              {"device_faults", i64(st.device.count)},
              {"cpu_faults", i64(st.cpu_faults())},
              {"bytes_host_to_device", i64(st.bytes_host_to_device)},
              {"bytes_device_to_host", i64(st.bytes_device_to_host)},
              {"bytes_device_to_device", i64(st.bytes_device_to_device)},
              {"evictions", i64(st.evictions)},
              {"remote_mappings", i64(st.remote_mappings)},
              {"prefetched_pages", i64(st.prefetched_pages)},
              {"promoted_pages", i64(st.promoted_pages)},
              {"thrashing_throttles", i64(st.thrashing_throttles)},
              {"thrashing_pins", i64(st.thrashing_pins)}};
  if (!cfg.trace_path.empty()) r.params.push_back({"trace", cfg.trace_path});
  return {std::move(r), st.modelled};
}

// The run's modelled time on each profile, against its baseline's.
void add_modelled(std::vector<record>& out, const measured& m, const measured& base) {
  for (std::size_t p = 0; p < m.modelled.size() && p < base.modelled.size(); ++p) {
    const uvm::modelled_time& t = m.modelled[p];
    record r;
    r.suite = "workloads";
    r.name = m.wall.name + " @" + t.profile;
    r.unit = "modelled ms";
    r.value = static_cast<double>(t.total.count()) / 1e6;
    r.samples = 1;
    r.params = {{"profile", t.profile},
                {"kernels", static_cast<std::int64_t>(t.kernels)},
                {"device_faults", static_cast<std::int64_t>(t.device_faults)},
                {"fault_ms", static_cast<double>((t.fault_service + t.fault_copies).count()) / 1e6},
                {"compute_ms", static_cast<double>(t.compute.count()) / 1e6},
                {"remote_ms", static_cast<double>(t.remote.count()) / 1e6},
                {"cpu_fault_ms", static_cast<double>(t.cpu_faults.count()) / 1e6}};
    record b;
    b.name = base.wall.name + " @" + base.modelled[p].profile;
    b.value = static_cast<double>(base.modelled[p].total.count()) / 1e6;
    r.compare_to(b);
    out.push_back(std::move(r));
  }
}

std::vector<record> run(const options& opt) {
  const uvm::workloads::workload_size z{opt.scale != 0 ? opt.scale : (opt.quick ? 1u : 3u), 1};
  std::vector<record> out;
  bool emulated = false;
  for (const std::string_view name : uvm::workloads::workload_names) {
    std::size_t bytes = 0;
    {
      uvm::config cfg = uvm::config::from_env();
      cfg.page_size = page_size;
      cfg.trace_path.clear();
      uvm::manager mgr(cfg);
      emulated = mgr.backend() == uvm::backend_kind::emulated;
      auto w = uvm::workloads::make_workload(name, z);
      w->setup(mgr);
      bytes = uvm::workloads::footprint(*w);
    }
    const std::size_t first = out.size();
    for (const budget& b : budgets) {
      out.push_back(measure(name, z, bytes, b, opt, false).wall);
      if (b.percent < 100) out.back().compare_to(out[first]);  // the slowdown
    }
    if (!emulated) continue;  // a GPU is one device here
    const std::size_t one = out.size();
    for (const budget& b : split) {
      out.push_back(measure(name, z, bytes, b, opt, false).wall);
      if (b.devices > 1) out.back().compare_to(out[one]);
    }
    // Modelled: the oversubscribed runs against the resident one, two devices against one.
    std::vector<measured> runs;
    for (const budget& b : budgets) runs.push_back(measure(name, z, bytes, b, opt, true));
    for (const budget& b : split) runs.push_back(measure(name, z, bytes, b, opt, true));
    for (std::size_t i = 1; i < std::size(budgets); ++i) add_modelled(out, runs[i], runs[0]);
    add_modelled(out, runs.back(), runs[runs.size() - 2]);
  }
  return out;
}

const suite_registration registration{
    "workloads",
    "matmul, Jacobi, BFS, SpMV, k-means, hash join, layer streaming and embedding gather at 50% "
    "and 75% of their footprint vs all resident, and split across two emulated devices vs one",
    run};

}  // namespace

}  // namespace bench
