// access-overhead: what reaching managed memory through device views costs a bandwidth-bound
// kernel. A STREAM triad a[i] = b[i] + s * c[i] over three device-resident arrays of doubles,
// timed three ways on the same data in the same run:
//
//  (i)   view_load_store: device_view load/store per element (a page-table lookup per access);
//  (ii)  view_span_at: device views translated once per page run with span_at, plain loads and
//        stores inside the run;
//  (iii) raw_pointer: raw device pointers in launch-residency mode (begin_launch with reads and
//        writes, device_pointer), no translation at all. The baseline.
//
// Reported as GB/s (three arrays moved per triad, STREAM's count) and as the overhead of (i) and
// (ii) over (iii), from median times (target on a GPU: <= 10%). The arrays are prefetched to the
// device before each path's runs and a measured run that took device faults is reported (its
// time would include migrations). After its runs each path's result is checked on the host,
// with a scale factor of its own, so a broken path fails the suite instead of reporting a number.
//
// On a GPU the kernels are grid-stride __global__ functions on the launch scope's native stream,
// timed with CUDA events (kernel time only). On the emulated device the same bodies run on CPU
// threads through uvm::launch and launch_scope::parallel_for, timed launch to synchronize: those
// figures measure the translation's cost on CPU threads, not on a GPU.

#include "bench/backend_probe.hpp"
#include "bench/cuda_support.hpp"
#include "bench/size_label.hpp"
#include "bench/suite.hpp"
#include "bench/timing.hpp"

#include <uvm/launch.hpp>
#include <uvm/uvm.hpp>

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstdio>
#include <stdexcept>
#include <string>
#include <vector>

namespace bench {

namespace {

constexpr std::size_t page_size = std::size_t{64} << 10;
// Elements per span_at work item: a few per GPU thread, many page-table lookups saved per item.
constexpr std::size_t tile = 4096;
constexpr unsigned block = 256;

enum class path { view, span, raw };
constexpr std::array<path, 3> paths = {path::view, path::span, path::raw};

const char* name_of(path p) {
  switch (p) {
    case path::view: return "view_load_store";
    case path::span: return "view_span_at";
    case path::raw: return "raw_pointer";
  }
  return "?";
}

struct plan {
  std::size_t n;       // elements per array
  std::size_t rounds;  // rounds over the three paths, each in a different order
  std::size_t reps;    // timed triads per path and round
};

plan plan_for(const options& opt, bool gpu) {
  // A GPU streams 3 x 256 MiB in a quarter of a millisecond; CPU threads translating every
  // access are a hundred times slower, so the emulated device gets smaller arrays.
  if (gpu)
    return opt.quick ? plan{std::size_t{8} << 20, 2, 10} : plan{std::size_t{32} << 20, 5, 20};
  return opt.quick ? plan{std::size_t{2} << 20, 2, 3} : plan{std::size_t{8} << 20, 5, 6};
}

// The bodies, shared by the GPU kernels and the emulated device.

struct triad_view {
  uvm::device_view<double> a;
  uvm::const_device_view<double> b;
  uvm::const_device_view<double> c;
  double s;
  UVM_HOST_DEVICE void operator()(std::size_t i) const { a.store(i, b.load(i) + s * c.load(i)); }
};

// Work item t covers elements [t * tile, (t + 1) * tile): translated once per page run (the
// three arrays' runs may end at different elements), `lanes` threads striding inside each run.
struct triad_span {
  uvm::device_view<double> a;
  uvm::const_device_view<double> b;
  uvm::const_device_view<double> c;
  double s;
  std::size_t n;

  UVM_HOST_DEVICE void run(std::size_t t, std::size_t lane, std::size_t lanes) const {
    std::size_t i = t * tile;
    const std::size_t end = i + tile < n ? i + tile : n;
    while (i < end) {
      const uvm::page_span<double> sa = a.span_at(i);
      const uvm::page_span<const double> sb = b.span_at(i);
      const uvm::page_span<const double> sc = c.span_at(i);
      std::size_t m = end - i;
      m = sa.count < m ? sa.count : m;
      m = sb.count < m ? sb.count : m;
      m = sc.count < m ? sc.count : m;
      if (m == 0) return;  // a fault failed: synchronize reports it
      for (std::size_t j = lane; j < m; j += lanes) sa.data[j] = sb.data[j] + s * sc.data[j];
      i += m;
    }
  }
  UVM_HOST_DEVICE void operator()(std::size_t t) const { run(t, 0, 1); }
};

struct triad_raw {
  double* a;
  const double* b;
  const double* c;
  double s;
  UVM_HOST_DEVICE void operator()(std::size_t i) const { a[i] = b[i] + s * c[i]; }
};

#if defined(__CUDACC__)
// One block per work item at a time, its threads sharing the item's translations.
__global__ void triad_span_kernel(std::size_t items, triad_span f) {
  for (std::size_t t = blockIdx.x; t < items; t += gridDim.x) f.run(t, threadIdx.x, blockDim.x);
}

// Blocks that fill the device once for `kernel`: each path gets its own occupancy.
template <class K>
unsigned grid_for(K kernel, std::size_t work_blocks) {
  int per_sm = 0;
  UVM_BENCH_CUDA_CHECK(cudaOccupancyMaxActiveBlocksPerMultiprocessor(&per_sm, kernel, block, 0));
  const std::size_t full = static_cast<std::size_t>(sm_count()) * std::max(per_sm, 1);
  return static_cast<unsigned>(std::min(full, work_blocks));
}
#endif

double expected(std::size_t i, double s) {
  return static_cast<double>(i % 1024) + s * static_cast<double>(i % 7 + 1);
}

// The data and the manager that keeps it; every run of every path uses these.
struct triad_data {
  uvm::manager& mgr;
  uvm::typed_range<double>& a;
  uvm::typed_range<double>& b;
  uvm::typed_range<double>& c;
};

// One triad of `p` with scale `s`. @return ns: kernel time from CUDA events on a GPU, launch to
// synchronize on the emulated device.
std::uint64_t run_once(triad_data& d, path p, double s) {
  const std::size_t n = d.a.size();
  const triad_view view{d.a.view(), d.b.const_view(), d.c.const_view(), s};
  const triad_span span{d.a.view(), d.b.const_view(), d.c.const_view(), s, n};
  const std::size_t items = (n + tile - 1) / tile;
#if defined(__CUDACC__)
  if (d.mgr.backend() == uvm::backend_kind::cuda) {
    event_timer timer;
    {
      uvm::launch_scope scope =
          p == path::raw ? d.mgr.begin_launch({uvm::reads(d.b), uvm::reads(d.c), uvm::writes(d.a)})
                         : d.mgr.begin_launch();
      const auto st = static_cast<cudaStream_t>(scope.native_stream());
      const std::size_t blocks = (n + block - 1) / block;
      timer.start(st);
      switch (p) {
        case path::view:
          uvm::detail::for_each_index<<<grid_for(uvm::detail::for_each_index<triad_view>, blocks),
                                        block, 0, st>>>(n, view);
          break;
        case path::span:
          triad_span_kernel<<<grid_for(triad_span_kernel, items), block, 0, st>>>(items, span);
          break;
        case path::raw: {
          const triad_raw raw{scope.device_pointer(d.a.data()),
                              scope.device_pointer(static_cast<const double*>(d.b.data())),
                              scope.device_pointer(static_cast<const double*>(d.c.data())), s};
          uvm::detail::for_each_index<<<grid_for(uvm::detail::for_each_index<triad_raw>, blocks),
                                        block, 0, st>>>(n, raw);
          break;
        }
      }
      UVM_BENCH_CUDA_CHECK(cudaGetLastError());
      timer.stop(st);
    }
    d.mgr.synchronize();
    return timer.elapsed_ns();
  }
#endif
  const std::uint64_t t0 = now_ns();
  switch (p) {
    case path::view: uvm::launch(d.mgr, n, view); break;
    case path::span: uvm::launch(d.mgr, items, span); break;
    case path::raw: {
      uvm::launch_scope scope =
          d.mgr.begin_launch({uvm::reads(d.b), uvm::reads(d.c), uvm::writes(d.a)});
      const triad_raw raw{scope.device_pointer(d.a.data()),
                          scope.device_pointer(static_cast<const double*>(d.b.data())),
                          scope.device_pointer(static_cast<const double*>(d.c.data())), s};
      scope.parallel_for(n, raw);
      break;
    }
  }
  d.mgr.synchronize();
  return now_ns() - t0;
}

// Reads a spread of a's elements on the host (each brings its page back) and throws if one is
// not what the triad with scale `s` computes.
void verify(const triad_data& d, path p, double s) {
  const std::size_t n = d.a.size();
  constexpr std::size_t checks = 256;
  for (std::size_t k = 0; k <= checks; ++k) {
    // Evenly spread, nudged off page boundaries so different offsets in a page get checked.
    const std::size_t i = std::min(n - 1, k * (n / checks) + (k * 37) % 1024);
    const double got = d.a[i];
    if (got != expected(i, s)) {
      throw std::runtime_error("access-overhead: " + std::string(name_of(p)) + " computed a[" +
                               std::to_string(i) + "] = " + std::to_string(got) + ", expected " +
                               std::to_string(expected(i, s)));
    }
  }
}

// Everything back on the device (the verification brought some of a's pages to the host), then
// one untimed triad, which takes whatever upgrade faults the pages' states still need.
void settle(triad_data& d, path p, double s) {
  d.mgr.prefetch(d.b.bytes(), uvm::location::device());
  d.mgr.prefetch(d.c.bytes(), uvm::location::device());
  d.mgr.prefetch(d.a.bytes(), uvm::location::device());
  d.mgr.synchronize();
  (void)run_once(d, p, s);
}

void warn_faults(path p, const uvm::stats& st) {
  if (st.device.count == 0 && st.remote_mappings == 0) return;
  std::fprintf(stderr,
               "uvm-bench: warning: access-overhead %s: %llu device faults and %llu remote "
               "mappings during the measured runs; the figures include their service\n",
               name_of(p), static_cast<unsigned long long>(st.device.count),
               static_cast<unsigned long long>(st.remote_mappings));
}

record make_record(std::string name, std::string unit, const plan& pl, bool gpu) {
  record r;
  r.suite = "access-overhead";
  r.name = std::move(name);
  r.unit = std::move(unit);
  r.params = {{"elements", static_cast<std::int64_t>(pl.n)},
              {"array_bytes", static_cast<std::int64_t>(pl.n * sizeof(double))},
              {"page_size", static_cast<std::int64_t>(page_size)},
              {"device", std::string(gpu ? "cuda" : "emulated")}};
  return r;
}

record bandwidth_record(path p, const plan& pl, bool gpu, const std::vector<std::uint64_t>& ns) {
  const double bytes = 3.0 * static_cast<double>(pl.n * sizeof(double));
  const summary s = summarize(ns);
  const auto gbps = [bytes](double t) { return t > 0 ? bytes / t : 0.0; };
  record r = make_record(std::string("triad/") + name_of(p), "GB/s", pl, gpu);
  r.value = gbps(s.median);
  r.samples = s.count;
  r.p10 = gbps(s.p90);  // the slowest tenth of times is the lowest tenth of bandwidths
  r.p90 = gbps(s.p10);
  return r;
}

std::vector<record> run(const options& opt) {
  const bool gpu = probe_backend() == uvm::backend_kind::cuda;
  const plan pl = plan_for(opt, gpu);
  const std::size_t array_bytes = pl.n * sizeof(double);

  uvm::config cfg = uvm::config::from_env();  // keeps UVM_BACKEND, UVM_LOG_LEVEL... working
  cfg.page_size = page_size;
  cfg.device_budget = 4 * array_bytes;  // the three arrays and room: no eviction, no remote pages
  uvm::manager mgr(cfg);
  auto a = mgr.allocate<double>(pl.n);
  auto b = mgr.allocate<double>(pl.n);
  auto c = mgr.allocate<double>(pl.n);
  for (std::size_t i = 0; i < pl.n; ++i) {
    a[i] = -1;
    b[i] = static_cast<double>(i % 1024);
    c[i] = static_cast<double>(i % 7 + 1);
  }
  triad_data d{mgr, a, b, c};

  // Each (round, path) gets its own scale, so a path that wrote nothing fails verification.
  const auto scale = [](std::size_t round, std::size_t k) {
    return static_cast<double>(2 + k + paths.size() * round);
  };
  for (std::size_t k = 0; k < paths.size(); ++k) {  // warm-up: module loads, first launches
    settle(d, paths[k], scale(pl.rounds, k));
    verify(d, paths[k], scale(pl.rounds, k));
  }

  std::array<std::vector<std::uint64_t>, paths.size()> ns;
  for (std::size_t round = 0; round < pl.rounds; ++round) {
    for (std::size_t j = 0; j < paths.size(); ++j) {
      const std::size_t k = (j + round) % paths.size();  // rotate which path runs first
      const path p = paths[k];
      const double s = scale(round, k);
      settle(d, p, s);
      mgr.reset_stats();
      for (std::size_t rep = 0; rep < pl.reps; ++rep) ns[k].push_back(run_once(d, p, s));
      warn_faults(p, mgr.stats());
      verify(d, p, s);
    }
  }

  std::vector<record> records;
  const record base = bandwidth_record(path::raw, pl, gpu, ns[2]);
  for (std::size_t k = 0; k < 2; ++k) {
    record r = bandwidth_record(paths[k], pl, gpu, ns[k]);
    r.compare_to(base);
    records.push_back(r);
  }
  records.push_back(base);
  // Overhead from median times: t_path / t_raw - 1, in percent.
  const double t_raw = summarize(ns[2]).median;
  for (std::size_t k = 0; k < 2; ++k) {
    record r = make_record(std::string("overhead/") + name_of(paths[k]), "%", pl, gpu);
    r.value = t_raw > 0 ? (summarize(ns[k]).median / t_raw - 1) * 100 : 0;
    r.samples = ns[k].size();
    r.params.push_back({"target_pct", std::int64_t{10}});
    records.push_back(std::move(r));
  }
  return records;
}

const suite_registration registration{
    "access-overhead",
    "STREAM triad over device-resident arrays through device views (load/store per element, and "
    "span_at per page) vs raw pointers in launch-residency mode: GB/s and overhead; on the "
    "emulated device this measures the translation on CPU threads, not a GPU",
    run};

}  // namespace

}  // namespace bench
