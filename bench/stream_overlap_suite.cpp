// overlap and pipeline: CPU and kernels at once, on the device the manager drives (a GPU where
// nvcc built this file and one is usable, else the emulated device).
//
// overlap: CPU threads update range B (every page moved to the device first, so each update is
// a CPU fault that migrates the page back) while a kernel over range A holds the device on
// another stream. Pages per second during the kernel, with B attached to the CPU threads'
// stream (`single`), vs the same updates with no kernel running (the baseline, same run; target
// ratio >= 0.8). Also the same with B `global`, where each fault waits for the kernel (what
// every access did before stream attachment): the kernel then ends after a fixed hold.
// The kernel holds by sleeping (backoff), so that on the emulated device, whose "SMs" are the
// host's cores, the measurement isolates waiting from CPU contention.
//
// pipeline: data 4x the device budget streamed through a kernel in chunks. Serial: prefetch
// chunk k, the kernel on it, then chunk k back (prefetch to the host, or discard), one after
// another with a synchronize between chunks. Overlapped: the chunks alternate between two
// streams, each kernel declared on its chunk, so chunk k+1's prefetch and chunk k-1's way back
// run while the kernel works on chunk k. Reported: the speed-up, and the fraction of the copy
// engines' throughput reached: the time the pipeline's bytes take at this run's migrate rates
// (a budget's worth prefetched to the device, and back after a kernel dirtied it, one
// direction at a time) over the pipeline's time.

#include "bench/backend_probe.hpp"
#include "bench/suite.hpp"
#include "bench/timing.hpp"
#include "kernels/host_words.hpp"

#include <uvm/launch.hpp>
#include <uvm/uvm.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

namespace bench {

namespace {

constexpr std::size_t page_size = std::size_t{64} << 10;
constexpr std::size_t per_page = page_size / sizeof(std::uint32_t);

// Reads a word of every page of `a`; index 0 then sleeps until word 0 of the host words is set
// (at most 60 s).
struct hold_body {
  uvm::const_device_view<std::uint32_t> a;
  std::uint32_t* flag;
  UVM_HOST_DEVICE void operator()(std::size_t i) const {
    const std::uint32_t seen = a.load(i * per_page);
    if (i != 0) return;
    const std::uint64_t end = uvm::detail::device_clock_ns() + 60'000'000'000ull + (seen & 0u);
    while (uvm::detail::load_acquire(flag) == 0 && uvm::detail::device_clock_ns() < end) {
      uvm::detail::backoff(1'000'000);  // 1 ms: the hold costs the host (emulated) nothing
    }
  }
};

uvm::config config_for(std::size_t budget) {
  uvm::config cfg = uvm::config::from_env();
  cfg.page_size = page_size;
  cfg.device_budget = budget;
  return cfg;
}

// Every page of `b` written by `threads` CPU threads (each its share), after the pages were
// moved to the device. @return pages per second.
double update_pages(uvm::manager& mgr, uvm::typed_range<std::uint32_t>& b, unsigned threads,
                    const uvm::stream& s) {
  mgr.prefetch(b.bytes(), uvm::location::device(), s);
  mgr.synchronize(s);
  const std::size_t pages = b.bytes().page_count();
  const std::uint64_t t0 = now_ns();
  std::vector<std::thread> pool;
  for (unsigned t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      for (std::size_t p = t; p < pages; p += threads) b[p * per_page] += 1;
    });
  }
  for (auto& t : pool) t.join();
  const std::uint64_t t1 = now_ns();
  return static_cast<double>(pages) * 1e9 / static_cast<double>(t1 - t0);
}

record rate_record(const std::string& name, double value, std::size_t pages, unsigned threads,
                   std::size_t rounds, uvm::backend_kind k) {
  record r;
  r.suite = "overlap";
  r.name = name;
  r.unit = "pages/s";
  r.value = value;
  r.samples = rounds;
  r.params = {{"page_size", static_cast<std::int64_t>(page_size)},
              {"pages", static_cast<std::int64_t>(pages)},
              {"cpu_threads", static_cast<std::int64_t>(threads)},
              {"backend", std::string(uvm::to_string(k))}};
  return r;
}

double median_of(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

std::vector<record> run_overlap(const options& opt) {
  const std::size_t a_pages = 64;
  const std::size_t b_pages = opt.quick ? 256 : 1024;
  const std::size_t rounds = opt.quick ? 3 : 7;
  const unsigned threads = 2;
  uvm::manager mgr(config_for(0));
  const uvm::stream kernel_stream = mgr.create_stream("overlap-kernel");
  const uvm::stream cpu_stream = mgr.create_stream("overlap-cpu");
  auto a = mgr.allocate<std::uint32_t>(a_pages * per_page);
  auto b = mgr.allocate<std::uint32_t>(b_pages * per_page);
  mgr.attach(b.bytes(), uvm::attach_kind::single, cpu_stream);
  (void)update_pages(mgr, b, threads, cpu_stream);  // warm-up: every page populated
  // The kernel's range on the device first: it takes no fault, so the service thread serves
  // only the CPU's faults in both measurements.
  mgr.prefetch(a.bytes(), uvm::location::device(), kernel_stream);
  mgr.synchronize(kernel_stream);

  std::vector<double> idle, during;
  for (std::size_t r = 0; r < rounds; ++r) {
    idle.push_back(update_pages(mgr, b, threads, cpu_stream));
    uvm::kernels::host_words flag(mgr);
    uvm::launch(mgr, a_pages, hold_body{a.const_view(), flag.device()}, kernel_stream);
    during.push_back(update_pages(mgr, b, threads, cpu_stream));
    // The kernel must still have been running: it holds until the flag opens.
    flag.set(0, 1);
    mgr.synchronize(kernel_stream);
  }
  std::vector<record> out;
  out.push_back(rate_record("cpu_updates/no_kernel", median_of(idle), b_pages, threads, rounds,
                            mgr.backend()));
  record single = rate_record("cpu_updates/during_kernel/single", median_of(during), b_pages,
                              threads, rounds, mgr.backend());
  single.compare_to(out[0]);
  // The fault path's rate varies from run to run on a shared VM: the ratio is the median of
  // each round's ratio (its two measurements taken back to back), not the ratio of medians.
  std::vector<double> per_round;
  for (std::size_t r = 0; r < rounds; ++r) per_round.push_back(during[r] / idle[r]);
  single.ratio = median_of(per_round);
  out.push_back(single);

  // Global: every fault waits for the kernel, which ends after a fixed hold.
  mgr.attach(b.bytes(), uvm::attach_kind::global, cpu_stream);
  mgr.synchronize(cpu_stream);
  constexpr auto hold = std::chrono::milliseconds(200);
  std::vector<double> global;
  for (std::size_t r = 0; r < rounds; ++r) {
    mgr.prefetch(b.bytes(), uvm::location::device(), cpu_stream);
    mgr.synchronize(cpu_stream);
    uvm::kernels::host_words flag(mgr);
    uvm::launch(mgr, a_pages, hold_body{a.const_view(), flag.device()}, kernel_stream);
    std::thread opener([&] {
      std::this_thread::sleep_for(hold);
      flag.set(0, 1);
    });
    global.push_back(update_pages(mgr, b, threads, cpu_stream));
    opener.join();
    mgr.synchronize(kernel_stream);
  }
  record g = rate_record("cpu_updates/during_kernel/global", median_of(global), b_pages, threads,
                         rounds, mgr.backend());
  g.params.push_back({"kernel_hold_ms", static_cast<std::int64_t>(hold.count())});
  g.compare_to(out[0]);
  for (std::size_t r = 0; r < rounds; ++r) per_round[r] = global[r] / idle[r];
  g.ratio = median_of(per_round);
  out.push_back(g);
  return out;
}

// The kernel of the pipeline: x = 3x + 1 on every `stride`-th word of the chunk's pages.
struct scale_body {
  uvm::device_view<std::uint32_t> x;
  std::size_t first_page;
  std::size_t stride;
  UVM_HOST_DEVICE void operator()(std::size_t i) const {
    const auto s = x.span_at((first_page + i) * per_page);
    for (std::size_t k = 0; k < s.count; k += stride) s.data[k] = s.data[k] * 3 + 1;
  }
};

enum class back { to_host, discard };

struct pipeline_run {
  double seconds;
  std::uint64_t h2d;  // bytes
  std::uint64_t d2h;
  std::uint64_t device_faults;
};

// The migrate figure of this run: seconds per byte to the device, and back after a kernel wrote
// every page, for `bytes` at the front of `x` (what fits the budget), one direction at a time.
struct copy_rates {
  double h2d;
  double d2h;
};
copy_rates measure_rates(uvm::manager& mgr, uvm::typed_range<std::uint32_t>& x, std::size_t bytes,
                         std::size_t rounds) {
  std::vector<double> in, out;
  const std::size_t pages = bytes / page_size;
  for (std::size_t r = 0; r <= rounds; ++r) {
    std::uint64_t t0 = now_ns();
    mgr.prefetch(x.data(), bytes, uvm::location::device());
    mgr.synchronize();
    std::uint64_t t1 = now_ns();
    uvm::launch(mgr, pages, scale_body{x.view(), 0, 1024});  // every page dirty
    mgr.synchronize();
    const std::uint64_t t2 = now_ns();
    mgr.prefetch(x.data(), bytes, uvm::location::host());
    mgr.synchronize();
    const std::uint64_t t3 = now_ns();
    if (r == 0) continue;
    in.push_back(static_cast<double>(t1 - t0) / 1e9 / static_cast<double>(bytes));
    out.push_back(static_cast<double>(t3 - t2) / 1e9 / static_cast<double>(bytes));
  }
  return {median_of(in), median_of(out)};
}

// Streams the chunks through the kernel. `overlap`: two streams in turn, declared kernels, one
// synchronize at the end; otherwise one stream and a synchronize after each chunk. `kernels`:
// false moves the chunks in and out with no kernel (the copies-only baseline).
pipeline_run stream_chunks(uvm::manager& mgr, uvm::typed_range<std::uint32_t>& x,
                           std::size_t chunks, back how, bool overlap, bool kernels,
                           std::size_t stride, const uvm::stream (&streams)[2]) {
  const std::size_t chunk_pages = x.bytes().page_count() / chunks;
  const std::size_t chunk_bytes = chunk_pages * page_size;
  auto* base = reinterpret_cast<std::byte*>(x.data());
  mgr.reset_stats();
  const std::uint64_t t0 = now_ns();
  for (std::size_t k = 0; k < chunks; ++k) {
    const uvm::stream& s = streams[overlap ? k % 2 : 0];
    std::byte* chunk = base + k * chunk_bytes;
    mgr.prefetch(chunk, chunk_bytes, uvm::location::device(), s);
    if (kernels) {
      const scale_body body{x.view(), k * chunk_pages, stride};
      if (overlap) {
        uvm::launch(mgr, chunk_pages, body, s, {uvm::writes(chunk, chunk_bytes)});
      } else {
        uvm::launch(mgr, chunk_pages, body, s);
      }
    }
    if (how == back::discard) {
      mgr.discard(chunk, chunk_bytes, s);
    } else {
      mgr.prefetch(chunk, chunk_bytes, uvm::location::host(), s);
    }
    if (!overlap) mgr.synchronize(s);
  }
  mgr.synchronize(streams[0]);
  mgr.synchronize(streams[1]);
  const std::uint64_t t1 = now_ns();
  const uvm::stats st = mgr.stats();
  return {static_cast<double>(t1 - t0) / 1e9, st.bytes_host_to_device, st.bytes_device_to_host,
          st.device.count};
}

record pipeline_record(const std::string& name, const std::string& unit, double value,
                       std::size_t bytes, std::size_t budget, std::size_t chunks,
                       std::size_t rounds, uvm::backend_kind k) {
  record r;
  r.suite = "pipeline";
  r.name = name;
  r.unit = unit;
  r.value = value;
  r.samples = rounds;
  r.params = {{"page_size", static_cast<std::int64_t>(page_size)},
              {"data_bytes", static_cast<std::int64_t>(bytes)},
              {"device_budget", static_cast<std::int64_t>(budget)},
              {"chunks", static_cast<std::int64_t>(chunks)},
              {"backend", std::string(uvm::to_string(k))}};
  return r;
}

std::vector<record> run_pipeline(const options& opt) {
  const std::size_t budget = opt.quick ? std::size_t{32} << 20 : std::size_t{128} << 20;
  const std::size_t bytes = 4 * budget;
  const std::size_t chunks = 16;  // a chunk is a quarter of the budget
  const std::size_t rounds = opt.quick ? 2 : 5;
  uvm::manager mgr(config_for(budget));
  const uvm::stream streams[2] = {mgr.create_stream("pipeline-a"), mgr.create_stream("pipeline-b")};
  auto x = mgr.allocate<std::uint32_t>(bytes / sizeof(std::uint32_t));
  std::memset(x.data(), 1, bytes);
  const copy_rates rates = measure_rates(mgr, x, budget, rounds);
  std::vector<record> out;
  {
    record in = pipeline_record("migrate/h2d", "GB/s", 1e-9 / rates.h2d, budget, budget, 1, rounds,
                                mgr.backend());
    record back_rec = pipeline_record("migrate/d2h", "GB/s", 1e-9 / rates.d2h, budget, budget, 1,
                                      rounds, mgr.backend());
    out.push_back(std::move(in));
    out.push_back(std::move(back_rec));
  }
  // `full` updates every word (compute-bound on the emulated device, whose kernels run on the
  // host's cores); `light` every 1024th, so that the copies bound the pipeline, as on a GPU,
  // where a kernel streams far faster than the bus: the copy-throughput fraction is read there.
  struct kernel_kind {
    const char* name;
    std::size_t stride;
  };
  for (const kernel_kind kk : {kernel_kind{"full", 1}, kernel_kind{"light", 1024}}) {
    for (const back how : {back::to_host, back::discard}) {
      const std::string way =
          std::string(how == back::discard ? "discard" : "to_host") + "/" + kk.name;
      std::vector<double> serial, overlapped;
      pipeline_run last{};
      for (std::size_t r = 0; r <= rounds; ++r) {  // round 0 warms up
        const pipeline_run s = stream_chunks(mgr, x, chunks, how, false, true, kk.stride, streams);
        const pipeline_run o = stream_chunks(mgr, x, chunks, how, true, true, kk.stride, streams);
        if (r == 0) continue;
        serial.push_back(s.seconds);
        overlapped.push_back(o.seconds);
        last = o;
      }
      const double t_serial = median_of(serial), t_over = median_of(overlapped);
      // What the same bytes take at the migrate rates, one direction after the other.
      const double t_copy =
          static_cast<double>(last.h2d) * rates.h2d + static_cast<double>(last.d2h) * rates.d2h;
      const auto make = [&](const std::string& what, const char* unit, double v) {
        record r = pipeline_record(way + "/" + what, unit, v, bytes, budget, chunks, rounds,
                                   mgr.backend());
        r.params.push_back({"kernel_stride_words", static_cast<std::int64_t>(kk.stride)});
        return r;
      };
      record ro = make("overlapped", "s", t_over);
      ro.params.push_back({"device_faults", static_cast<std::int64_t>(last.device_faults)});
      ro.params.push_back({"bytes_h2d", static_cast<std::int64_t>(last.h2d)});
      ro.params.push_back({"bytes_d2h", static_cast<std::int64_t>(last.d2h)});
      record copy_only = make("copies_at_migrate_rate", "s", t_copy);
      // The pipeline's move throughput against the migrate figure: 1.0 moves the bytes as fast
      // as prefetches alone do, one direction at a time (above 1: both directions overlapped).
      record fraction = make("copy_throughput", "fraction", t_copy / t_over);
      fraction.baseline = copy_only.name;
      fraction.baseline_value = t_copy;
      fraction.ratio = t_copy / t_over;
      out.push_back(make("serial", "s", t_serial));
      out.push_back(std::move(ro));
      out.push_back(make("speedup", "x", t_serial / t_over));
      out.push_back(std::move(copy_only));
      out.push_back(std::move(fraction));
    }
  }
  return out;
}

const suite_registration overlap_registration{
    "overlap",
    "CPU page updates per second (each a fault that migrates a page back) while a kernel on "
    "another stream holds the device, the range attached to the CPU's stream (and global), vs "
    "no kernel",
    run_overlap};

const suite_registration pipeline_registration{
    "pipeline",
    "data 4x the device budget streamed through a kernel in 16 chunks: prefetch k+1 and send "
    "k-1 back (to the host, or discard) while the kernel works on k, vs the same chunks one "
    "after another; speed-up and copy throughput vs copies alone",
    run_pipeline};

}  // namespace

}  // namespace bench
