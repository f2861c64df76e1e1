// um-compare: uvm against CUDA managed memory (cudaMallocManaged) on the same GPU, with the same
// sizes and the same kernel bodies (raw pointers into managed memory, device views into uvm
// ranges, both launched with uvm::launch's grid), in the same run, alternating which side goes
// first:
//
//  (a) stream: the CPU writes every element, then one kernel reads and writes every element.
//  (b) random_pages: the same, but consecutive blocks work on whole pages taken in a random
//      permutation, so there is nothing sequential to prefetch.
//  (c) ping_pong: N rounds of a CPU pass then a GPU pass over the same array, each adding 1 to
//      every element: every page crosses twice a round.
//  (d) oversubscribed_1.5x: data 1.5x the device memory it may use: uvm's device_budget B; for
//      managed memory, B left free by a cudaMalloc'd balloon. K passes of (a)'s kernel.
//
// Times are wall clock from the measured phase's first access to its synchronize; ratio = uvm /
// managed (below 1: uvm is faster). uvm keeps the configuration from the environment
// (UVM_PAGE_SIZE, UVM_PREFETCH, UVM_EVICTION...), named in the params. Every side's result is
// checked on the host, so a broken side fails the suite instead of reporting a time.
//
// Safety: managed memory is never allocated beyond what cudaMemGetInfo reports free, except in
// (d) when --allow-managed-oversubscription is given (oversubscribed managed memory can hang the
// GPU); without it (d)'s managed half is reported as skipped. uvm's budgets stay well below free
// memory.
//
// Needs a CUDA device: on the emulated backend, or in a build without CUDA, it says why on stderr
// and reports one skipped record.

#include "bench/backend_probe.hpp"
#include "bench/cuda_support.hpp"
#include "bench/size_label.hpp"
#include "bench/suite.hpp"
#include "bench/timing.hpp"

#include <uvm/launch.hpp>
#include <uvm/uvm.hpp>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <optional>
#include <random>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

namespace bench {

namespace {

constexpr const char* suite_name = "um-compare";

#if defined(__CUDACC__)

record make_record(std::string name, std::string unit) {
  record r;
  r.suite = suite_name;
  r.name = std::move(name);
  r.unit = std::move(unit);
  return r;
}

using element = std::uint32_t;
constexpr std::size_t mib = std::size_t{1} << 20;

struct plan {
  std::size_t bytes;           // (a), (b)
  std::size_t pingpong_bytes;  // (c)
  std::size_t rounds;          // (c)
  std::size_t budget;          // (d): B, the device memory either side may use; the data is 1.5 B
  std::size_t passes;          // (d)
  std::size_t reps;            // timed repetitions per pattern and side, after one warm-up each
};

plan plan_for(const options& opt) {
  if (opt.quick) return {64 * mib, 32 * mib, 4, 32 * mib, 2, 2};
  return {512 * mib, 256 * mib, 8, 256 * mib, 3, 5};
}

// A measurement that must not run; what() is the reason.
struct skipped_error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Element i as the CPU first writes it.
element initial(std::size_t i) {
  return static_cast<element>(i * 2654435761u);
}

// Managed memory seen through the device_view interface, so both sides run the same bodies.
struct raw_view {
  element* p;
  UVM_HOST_DEVICE element load(std::size_t i) const { return p[i]; }
  UVM_HOST_DEVICE void store(std::size_t i, element v) const { p[i] = v; }
};

template <class View>
struct increment {
  View v;
  UVM_HOST_DEVICE void operator()(std::size_t i) const { v.store(i, v.load(i) + 1); }
};

// Index i is element i % per_page of page perm[i / per_page]: whole pages, in permuted order.
template <class View>
struct increment_permuted {
  View v;
  const std::uint32_t* perm;  // plain device memory, the same for both sides
  std::size_t per_page;
  UVM_HOST_DEVICE void operator()(std::size_t i) const {
    const std::size_t j = perm[i / per_page] * per_page + i % per_page;
    v.store(j, v.load(j) + 1);
  }
};

// cudaMallocManaged arrays; kernels on a stream of their own with uvm::launch's grid and block.
class managed_side {
 public:
  using array = device_ptr<element>;

  // @throws skipped_error if `n` elements exceed the device's free memory and `oversubscribe`
  // is false.
  array allocate(std::size_t n, bool oversubscribe = false) {
    const std::size_t bytes = n * sizeof(element);
    if (const std::size_t free = free_device_memory(); !oversubscribe && bytes > free) {
      throw skipped_error(size_label(bytes) + " of managed memory exceeds the " +
                          std::to_string(free / mib) + " MiB the GPU has free");
    }
    return managed_alloc<element>(n);
  }
  static element* host(const array& a) { return a.get(); }
  static raw_view view(const array& a) { return {a.get()}; }

  template <class F>
  void launch(std::size_t n, F f) {
    constexpr unsigned block = 256;
    uvm::detail::for_each_index<<<uvm::detail::grid_for(n, block), block, 0, stream_.get()>>>(n, f);
    UVM_BENCH_CUDA_CHECK(cudaGetLastError());
  }
  void synchronize() { UVM_BENCH_CUDA_CHECK(cudaStreamSynchronize(stream_.get())); }

 private:
  cuda_stream stream_;
};

// uvm ranges; kernels with uvm::launch.
class uvm_side {
 public:
  using array = uvm::typed_range<element>;

  explicit uvm_side(uvm::manager& mgr) : mgr_(mgr) {}
  array allocate(std::size_t n) { return mgr_.allocate<element>(n); }
  static element* host(const array& a) { return a.data(); }
  static uvm::device_view<element> view(const array& a) { return a.view(); }

  template <class F>
  void launch(std::size_t n, F f) {
    uvm::launch(mgr_, n, f);
  }
  void synchronize() { mgr_.synchronize(); }

 private:
  uvm::manager& mgr_;
};

void initialise(element* h, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) h[i] = initial(i);
}

// Spot-checks that every element got `added` on top of its initial value.
void check(const element* h, std::size_t n, std::size_t added, const char* side,
           const char* pattern) {
  constexpr std::size_t checks = 256;
  for (std::size_t k = 0; k <= checks; ++k) {
    const std::size_t i = std::min(n - 1, k * (n / checks) + (k * 4099) % 16384);
    const auto want = static_cast<element>(initial(i) + added);
    if (h[i] != want) {
      throw std::runtime_error(std::string("um-compare: ") + side + " " + pattern + ": x[" +
                               std::to_string(i) + "] = " + std::to_string(h[i]) + ", expected " +
                               std::to_string(want));
    }
  }
}

template <class Side>
const char* side_name() {
  return std::is_same_v<Side, uvm_side> ? "uvm" : "managed";
}

// (a) and (b): the CPU writes the array, one kernel increments every element.
template <class Side, class Body>
std::uint64_t run_streaming(Side& side, typename Side::array x, std::size_t n, Body body,
                            const char* pattern) {
  element* h = Side::host(x);
  initialise(h, n);
  const std::uint64_t t0 = now_ns();
  side.launch(n, body);
  side.synchronize();
  const std::uint64_t t1 = now_ns();
  check(h, n, 1, side_name<Side>(), pattern);
  return t1 - t0;
}

template <class Side>
std::uint64_t stream_once(Side& side, std::size_t n) {
  typename Side::array x = side.allocate(n);
  const auto body = increment<decltype(Side::view(x))>{Side::view(x)};
  return run_streaming(side, std::move(x), n, body, "stream");
}

template <class Side>
std::uint64_t random_pages_once(Side& side, std::size_t n, const std::uint32_t* perm,
                                std::size_t per_page) {
  typename Side::array x = side.allocate(n);
  const auto body = increment_permuted<decltype(Side::view(x))>{Side::view(x), perm, per_page};
  return run_streaming(side, std::move(x), n, body, "random_pages");
}

// (c): rounds of a CPU pass then a GPU pass.
template <class Side>
std::uint64_t ping_pong_once(Side& side, std::size_t n, std::size_t rounds) {
  typename Side::array x = side.allocate(n);
  element* h = Side::host(x);
  initialise(h, n);
  const auto body = increment<decltype(Side::view(x))>{Side::view(x)};
  const std::uint64_t t0 = now_ns();
  for (std::size_t r = 0; r < rounds; ++r) {
    for (std::size_t i = 0; i < n; ++i) h[i] += 1;
    side.launch(n, body);
    side.synchronize();
  }
  const std::uint64_t t1 = now_ns();
  check(h, n, 2 * rounds, side_name<Side>(), "ping_pong");
  return t1 - t0;
}

// (d): passes of the streaming kernel over data that does not fit.
template <class Side>
std::uint64_t passes_once(Side& side, typename Side::array x, std::size_t n, std::size_t passes) {
  element* h = Side::host(x);
  initialise(h, n);
  const auto body = increment<decltype(Side::view(x))>{Side::view(x)};
  const std::uint64_t t0 = now_ns();
  // One pass at a time, as an iterative program runs them: back to back, uvm would run the later
  // passes over remote (zero-copy) mappings while managed memory evicts between them.
  for (std::size_t p = 0; p < passes; ++p) {
    side.launch(n, body);
    side.synchronize();
  }
  const std::uint64_t t1 = now_ns();
  check(h, n, passes, side_name<Side>(), "oversubscribed_1.5x");
  return t1 - t0;
}

struct outcome {
  std::vector<std::uint64_t> uvm;
  std::vector<std::uint64_t> managed;
  std::optional<std::string> managed_skipped;
};

// One untimed warm-up of each side, then `reps` timed pairs, alternating which side goes first.
// A managed side that must not run (skipped_error) is recorded as skipped; uvm still runs.
template <class U, class M>
outcome alternate(std::size_t reps, U&& uvm_once, M&& managed_once) {
  outcome o;
  const auto managed = [&](bool keep) {
    if (o.managed_skipped) return;
    try {
      const std::uint64_t ns = managed_once();
      if (keep) o.managed.push_back(ns);
    } catch (const skipped_error& e) {
      o.managed_skipped = e.what();
    }
  };
  const auto uvm = [&](bool keep) {
    const std::uint64_t ns = uvm_once();
    if (keep) o.uvm.push_back(ns);
  };
  uvm(false);
  managed(false);
  for (std::size_t rep = 0; rep < reps; ++rep) {
    if (rep % 2 == 0) {
      uvm(true);
      managed(true);
    } else {
      managed(true);
      uvm(true);
    }
  }
  return o;
}

record time_record(std::string name, const std::vector<std::uint64_t>& ns,
                   const std::vector<param>& params) {
  const summary s = summarize(ns);
  record r = make_record(std::move(name), "ms");
  r.value = s.median / 1e6;
  r.p10 = s.p10 / 1e6;
  r.p90 = s.p90 / 1e6;
  r.samples = s.count;
  r.params = params;
  return r;
}

void add_records(std::vector<record>& out, const std::string& pattern, const outcome& o,
                 const std::vector<param>& params) {
  record u = time_record("uvm/" + pattern, o.uvm, params);
  if (o.managed_skipped) {
    record m = make_record("managed/" + pattern, "ms");
    m.params = params;
    m.skipped = *o.managed_skipped;
    out.push_back(std::move(u));
    out.push_back(std::move(m));
    return;
  }
  const record m = time_record("managed/" + pattern, o.managed, params);
  u.compare_to(m);
  out.push_back(std::move(u));
  out.push_back(m);
}

// The uvm configuration's knobs that change these figures (managed memory has its driver's).
std::vector<param> config_params(const uvm::config& cfg) {
  return {{"uvm_page_size", static_cast<std::int64_t>(cfg.page_size)},
          {"uvm_prefetch", std::string(uvm::to_string(cfg.prefetch))},
          {"uvm_eviction", std::string(uvm::to_string(cfg.eviction))}};
}

// uvm's budgets must leave the device most of its memory: never more than half of what is free.
void check_budget(std::size_t budget) {
  if (const std::size_t free = free_device_memory(); budget > free / 2) {
    throw std::runtime_error("um-compare: a uvm device budget of " + size_label(budget) +
                             " is more than half the " + std::to_string(free / mib) +
                             " MiB the GPU has free; run with --quick");
  }
}

std::vector<record> measure_all(const options& opt) {
  const plan p = plan_for(opt);
  std::vector<record> records;
  managed_side managed;

  {
    uvm::config cfg = uvm::config::from_env();
    cfg.device_budget = 2 * std::max(p.bytes, p.pingpong_bytes);  // everything fits
    check_budget(cfg.device_budget);
    uvm::manager mgr(cfg);
    uvm_side u(mgr);
    const std::vector<param> base = config_params(mgr.configuration());

    // (a)
    const std::size_t n = p.bytes / sizeof(element);
    {
      std::vector<param> params = base;
      params.push_back({"bytes", static_cast<std::int64_t>(p.bytes)});
      add_records(
          records, "stream",
          alternate(
              p.reps, [&] { return stream_once(u, n); }, [&] { return stream_once(managed, n); }),
          params);
    }

    // (b): the permutation is plain device memory, read alike by both sides' kernels.
    if (const std::size_t page = mgr.configuration().page_size; p.bytes % page != 0) {
      record r = make_record("random_pages", "ms");
      r.skipped = "the array (" + size_label(p.bytes) + ") is not a whole number of " +
                  size_label(page) + " pages (UVM_PAGE_SIZE)";
      records.push_back(std::move(r));
    } else {
      const std::size_t per_page = page / sizeof(element);
      std::vector<std::uint32_t> order(p.bytes / page);
      for (std::size_t k = 0; k < order.size(); ++k) order[k] = static_cast<std::uint32_t>(k);
      std::shuffle(order.begin(), order.end(), std::mt19937_64(0x5eed));
      device_ptr<std::uint32_t> perm = device_alloc<std::uint32_t>(order.size());
      UVM_BENCH_CUDA_CHECK(cudaMemcpy(perm.get(), order.data(), order.size() * sizeof(order[0]),
                                      cudaMemcpyHostToDevice));
      std::vector<param> params = base;
      params.push_back({"bytes", static_cast<std::int64_t>(p.bytes)});
      add_records(records, "random_pages",
                  alternate(
                      p.reps, [&] { return random_pages_once(u, n, perm.get(), per_page); },
                      [&] { return random_pages_once(managed, n, perm.get(), per_page); }),
                  params);
    }

    // (c)
    {
      const std::size_t m = p.pingpong_bytes / sizeof(element);
      std::vector<param> params = base;
      params.push_back({"bytes", static_cast<std::int64_t>(p.pingpong_bytes)});
      params.push_back({"rounds", static_cast<std::int64_t>(p.rounds)});
      add_records(records, "ping_pong",
                  alternate(
                      p.reps, [&] { return ping_pong_once(u, m, p.rounds); },
                      [&] { return ping_pong_once(managed, m, p.rounds); }),
                  params);
    }
  }

  // (d)
  {
    uvm::config cfg = uvm::config::from_env();
    cfg.device_budget = p.budget;
    check_budget(cfg.device_budget);
    uvm::manager mgr(cfg);
    uvm_side u(mgr);
    const std::size_t bytes = p.budget / 2 * 3;
    const std::size_t n = bytes / sizeof(element);
    std::vector<param> params = config_params(mgr.configuration());
    params.push_back({"bytes", static_cast<std::int64_t>(bytes)});
    params.push_back({"device_budget", static_cast<std::int64_t>(p.budget)});
    params.push_back({"passes", static_cast<std::int64_t>(p.passes)});
    const auto uvm_once = [&] { return passes_once(u, u.allocate(n), n, p.passes); };
    const auto managed_once = [&]() -> std::uint64_t {
      if (!opt.allow_managed_oversubscription) {
        throw skipped_error(
            "managed memory past the GPU's free memory can hang the GPU; pass "
            "--allow-managed-oversubscription to run it");
      }
      // A balloon of plain device memory leaves B free, so 1.5 B of managed memory
      // oversubscribes the device as much as uvm's budget does, without 1.5x the whole GPU.
      const std::size_t free = free_device_memory();
      device_ptr<unsigned char> balloon;
      if (free > p.budget) balloon = device_alloc<unsigned char>(free - p.budget);
      return passes_once(managed, managed.allocate(n, true), n, p.passes);
    };
    mgr.reset_stats();
    const outcome o = alternate(p.reps, uvm_once, managed_once);
    // What each side did to fit: uvm's counters, per pass (every run, the warm-up included).
    // Managed memory's evictions are not observable without CUPTI's unified-memory counters.
    const uvm::stats s = mgr.stats();
    const auto runs = static_cast<double>((p.reps + 1) * p.passes);
    params.push_back({"uvm_evictions_per_pass", static_cast<double>(s.evictions) / runs});
    params.push_back(
        {"uvm_remote_mappings_per_pass", static_cast<double>(s.remote_mappings) / runs});
    params.push_back({"managed_evictions", std::string("not observable without CUPTI")});
    add_records(records, "oversubscribed_1.5x", o, params);
  }
  return records;
}

#endif  // __CUDACC__

std::vector<record> run(const options& opt) {
#if defined(__CUDACC__)
  if (probe_backend() == uvm::backend_kind::cuda) return measure_all(opt);
  return {needs_cuda(suite_name, "ms", true)};
#else
  (void)opt;
  return {needs_cuda(suite_name, "ms", false)};
#endif
}

const suite_registration registration{
    suite_name,
    "uvm vs cudaMallocManaged on one GPU, same sizes and kernels: streaming, random pages, "
    "CPU/GPU ping-pong, 1.5x oversubscription (managed half only with "
    "--allow-managed-oversubscription); ratio uvm/managed time. Needs a CUDA device",
    run};

}  // namespace

}  // namespace bench
