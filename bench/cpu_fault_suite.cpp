// cpu-fault: per-fault latency of uvm's two inline CPU fault paths (first touch, read-to-write
// upgrade) under each fault mechanism, against its floor measured in the same run on the same
// kind of memory: a bare mprotect + SIGSEGV round trip for signals, a bare userfaultfd MINOR
// fault served with UFFDIO_CONTINUE by one thread for userfaultfd; at three page sizes. Then
// fault throughput with 8 threads faulting at once on distinct pages, per mechanism.

#include "bench/raw_fault_baseline.hpp"
#include "bench/raw_uffd_baseline.hpp"
#include "bench/size_label.hpp"
#include "bench/suite.hpp"
#include "bench/timing.hpp"

#include <uvm/uvm.hpp>

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <functional>
#include <string>
#include <thread>
#include <vector>

namespace bench {

namespace {

constexpr std::size_t page_sizes[] = {std::size_t{4} << 10, std::size_t{64} << 10,
                                      std::size_t{2} << 20};

struct plan {
  std::size_t pages;   // pages per range, one timed fault each
  std::size_t rounds;  // fresh ranges per path, alternating uvm and raw
};

// uvm's handler threads (host/fault/sources/userfaultfd_fault_source.hpp).
constexpr unsigned uvm_handlers = 4;

plan plan_for(std::size_t page_size, const options& opt) {
  // 2 MiB pages get fewer per range so the address space stays at 512 MiB.
  const bool huge = page_size >= (std::size_t{2} << 20);
  if (opt.quick) return {huge ? 64u : 512u, 3};
  return {huge ? 256u : 2048u, 20};
}

struct samples {
  std::vector<std::uint64_t> first_touch;
  std::vector<std::uint64_t> upgrade;
};

void warn_count(const char* what, std::size_t page_size, std::uint64_t got, std::size_t want) {
  if (got != want) {
    std::fprintf(stderr,
                 "uvm-bench: warning: cpu-fault %s at %s: %llu faults counted for %zu pages\n",
                 what, size_label(page_size).c_str(), static_cast<unsigned long long>(got), want);
  }
}

// One round of both uvm paths, with a manager that lives only for the round so the raw
// baseline never runs beside uvm's handler.
uvm::config config_for(uvm::fault_mechanism m, std::size_t page_size) {
  uvm::config cfg = uvm::config::from_env();  // keeps UVM_LOG_LEVEL and friends working
  cfg.page_size = page_size;
  cfg.faults = m;
  return cfg;
}

void measure_uvm(uvm::fault_mechanism m, std::size_t page_size, std::size_t pages, samples& out) {
  const uvm::config cfg = config_for(m, page_size);
  uvm::manager mgr(cfg);
  {
    uvm::range r = mgr.allocate(page_size * pages);
    const uvm::stats before = mgr.stats();
    time_page_writes(r.data(), page_size, pages, out.first_touch);
    const uvm::stats after = mgr.stats();
    warn_count("first_touch", page_size, after.first_touch.count - before.first_touch.count, pages);
    warn_count("first_touch (all kinds)", page_size, after.cpu_faults() - before.cpu_faults(),
               pages);
  }
  {
    uvm::range r = mgr.allocate(page_size * pages);
    r.advise(uvm::advice::set_read_mostly);
    // Each read is a first touch that leaves the page `shared` (read-only), untimed.
    for (std::size_t i = 0; i < pages; ++i) {
      (void)*reinterpret_cast<volatile unsigned char*>(r.data() + i * page_size);
    }
    const uvm::stats before = mgr.stats();
    time_page_writes(r.data(), page_size, pages, out.upgrade);
    const uvm::stats after = mgr.stats();
    warn_count("upgrade", page_size, after.upgrade.count - before.upgrade.count, pages);
    warn_count("upgrade (all kinds)", page_size, after.cpu_faults() - before.cpu_faults(), pages);
  }
}

void measure_raw(std::size_t page_size, std::size_t pages, samples& out) {
  measure_raw_faults(raw_fault_kind::first_touch, page_size, pages, out.first_touch);
  measure_raw_faults(raw_fault_kind::upgrade, page_size, pages, out.upgrade);
}

// Why uvm cannot use userfaultfd here, or empty.
std::string uvm_uffd_unavailable() {
  try {
    uvm::config c = config_for(uvm::fault_mechanism::userfaultfd, std::size_t{64} << 10);
    c.log = uvm::log_level::off;
    uvm::manager mgr(c);
    return {};
  } catch (const uvm::error& e) {
    return e.what();
  }
}

// 8 threads, each writing one byte to every page of its own slice at once: first touches, so
// the fault path itself is the bottleneck. @return faults per second.
double fault_throughput(uvm::fault_mechanism m, std::size_t page_size, std::size_t pages) {
  constexpr unsigned threads = 8;
  uvm::manager mgr(config_for(m, page_size));
  uvm::range r = mgr.allocate(page_size * pages * threads);
  std::atomic<unsigned> ready{0};
  std::atomic<bool> go{false};
  std::vector<std::thread> pool;
  for (unsigned t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      uvm::install_alt_stack();
      ready.fetch_add(1);
      while (!go.load(std::memory_order_acquire)) std::this_thread::yield();
      std::byte* slice = r.data() + t * pages * page_size;
      for (std::size_t i = 0; i < pages; ++i) {
        *reinterpret_cast<volatile unsigned char*>(slice + i * page_size) = 1;
      }
    });
  }
  while (ready.load() != threads) std::this_thread::yield();
  const std::uint64_t t0 = now_ns();
  go.store(true, std::memory_order_release);
  for (auto& t : pool) t.join();
  const std::uint64_t t1 = now_ns();
  warn_count("throughput", page_size, mgr.stats().first_touch.count, pages * threads);
  return static_cast<double>(pages * threads) * 1e9 / static_cast<double>(t1 - t0);
}

// memset of a fresh range: first touches plus the touches of the rest of each page, which the
// kernel serves by itself under signals and the handler's fill windows serve under userfaultfd.
// @return bytes per second.
double fresh_memset(uvm::fault_mechanism m, std::size_t page_size, std::size_t bytes) {
  uvm::manager mgr(config_for(m, page_size));
  uvm::range r = mgr.allocate(bytes);
  const std::uint64_t t0 = now_ns();
  std::memset(r.data(), 1, bytes);
  const std::uint64_t t1 = now_ns();
  return static_cast<double>(bytes) * 1e9 / static_cast<double>(t1 - t0);
}

// `rounds` results of `run` after an untimed warm-up, as integers for summarize().
template <class Run>
std::vector<std::uint64_t> repeated(std::size_t rounds, Run run) {
  (void)run();
  std::vector<std::uint64_t> v;
  for (std::size_t i = 0; i < rounds; ++i) v.push_back(static_cast<std::uint64_t>(run()));
  return v;
}

record summary_record(std::string name, std::string unit, const std::vector<std::uint64_t>& v,
                      std::vector<param> params) {
  const summary s = summarize(v);
  record r;
  r.suite = "cpu-fault";
  r.name = std::move(name);
  r.unit = std::move(unit);
  r.value = s.median;
  r.samples = s.count;
  r.p10 = s.p10;
  r.p90 = s.p90;
  r.params = std::move(params);
  return r;
}

record latency_record(const std::string& name, std::size_t page_size, const plan& p,
                      const std::vector<std::uint64_t>& v) {
  return summary_record(name + "/" + size_label(page_size), "ns", v,
                        {{"page_size", static_cast<std::int64_t>(page_size)},
                         {"pages", static_cast<std::int64_t>(p.pages)},
                         {"rounds", static_cast<std::int64_t>(p.rounds)}});
}

std::vector<record> run(const options& opt) {
  std::vector<record> records;
  const std::string uffd_missing = uvm_uffd_unavailable();
  const std::string raw_uffd_missing = raw_uffd_unavailable();
  const bool uffd = uffd_missing.empty() && raw_uffd_missing.empty();
  if (!uffd) {
    std::fprintf(stderr, "uvm-bench: cpu-fault: no userfaultfd records: %s\n",
                 (uffd_missing.empty() ? raw_uffd_missing : uffd_missing).c_str());
  }
  using uvm::fault_mechanism;
  for (const std::size_t page_size : page_sizes) {
    const plan p = plan_for(page_size, opt);
    // Each measurement in turn, the order rotating every round so drift (frequency,
    // background load) spreads evenly; an untimed round first, so no side pays for cold page
    // tables, caches or the library's first-use setup.
    samples sig;
    samples raw;
    samples uf;
    std::vector<std::uint64_t> raw_uf;    // one handler thread
    std::vector<std::uint64_t> raw_uf4;   // as many as uvm has
    std::vector<std::uint64_t> raw_zero;  // MISSING + ZEROPAGE, as many handlers as uvm
    const std::vector<std::function<void(bool)>> steps = {
        [&](bool keep) {
          samples w;
          measure_uvm(fault_mechanism::signal, page_size, p.pages, keep ? sig : w);
        },
        [&](bool keep) {
          samples w;
          measure_raw(page_size, p.pages, keep ? raw : w);
        },
        [&](bool keep) {
          if (!uffd) return;
          samples w;
          measure_uvm(fault_mechanism::userfaultfd, page_size, p.pages, keep ? uf : w);
        },
        [&](bool keep) {
          if (!uffd) return;
          std::vector<std::uint64_t> w;
          measure_raw_uffd_faults(raw_uffd_kind::minor, page_size, p.pages, 1, keep ? raw_uf : w);
          measure_raw_uffd_faults(raw_uffd_kind::minor, page_size, p.pages, uvm_handlers,
                                  keep ? raw_uf4 : w);
          measure_raw_uffd_faults(raw_uffd_kind::missing, page_size, p.pages, uvm_handlers,
                                  keep ? raw_zero : w);
        },
    };
    for (const auto& step : steps) step(false);
    for (std::size_t round = 0; round < p.rounds; ++round) {
      for (std::size_t i = 0; i < steps.size(); ++i) steps[(round + i) % steps.size()](true);
    }

    const record raw_ft = latency_record("raw_first_touch", page_size, p, raw.first_touch);
    record ft = latency_record("first_touch", page_size, p, sig.first_touch);
    ft.compare_to(raw_ft);
    const record raw_up = latency_record("raw_upgrade", page_size, p, raw.upgrade);
    record up = latency_record("upgrade", page_size, p, sig.upgrade);
    up.compare_to(raw_up);
    records.insert(records.end(), {ft, raw_ft, up, raw_up});
    if (uffd) {
      // uvm's paths against the MINOR + CONTINUE floor with the same handler threads; the
      // one-thread floor beside it (on a VM its wake-ups across idle vCPUs swing it by several
      // times), and the first-touch floor (MISSING + ZEROPAGE: a page allocated and cleared).
      const record floor1 = latency_record("raw_uffd_minor_1_handler", page_size, p, raw_uf);
      record floor = latency_record("raw_uffd_minor", page_size, p, raw_uf4);
      floor.params.emplace_back("handlers", uvm_handlers);
      record zero = latency_record("raw_uffd_zeropage", page_size, p, raw_zero);
      zero.params.emplace_back("handlers", uvm_handlers);
      record uft = latency_record("uffd_first_touch", page_size, p, uf.first_touch);
      uft.compare_to(floor);
      record uft_zero =
          latency_record("uffd_first_touch_vs_zeropage", page_size, p, uf.first_touch);
      uft_zero.compare_to(zero);
      record uup = latency_record("uffd_upgrade", page_size, p, uf.upgrade);
      uup.compare_to(floor);
      records.insert(records.end(), {uft, uft_zero, uup, floor, zero, floor1});
    }
  }

  // A record per mechanism, userfaultfd's against signal's.
  auto both_mechanisms = [&](auto measure) {
    const record sig = measure(fault_mechanism::signal);
    records.push_back(sig);
    if (!uffd) return;
    record uf = measure(fault_mechanism::userfaultfd);
    uf.compare_to(sig);
    records.push_back(uf);
  };

  // A fresh range written end to end, per mechanism and page size, in GB/s.
  for (const std::size_t page_size : page_sizes) {
    const std::size_t bytes = std::size_t{opt.quick ? 16u : 64u} << 20;
    const std::size_t rounds = opt.quick ? 3 : 7;
    auto measure = [&](fault_mechanism m) {
      const auto v = repeated(rounds, [&] { return fresh_memset(m, page_size, bytes); });
      record r = summary_record(
          "fresh_memset/" + std::string(uvm::to_string(m)) + "/" + size_label(page_size), "GB/s", v,
          {{"page_size", static_cast<std::int64_t>(page_size)},
           {"bytes", static_cast<std::int64_t>(bytes)}});
      r.value /= 1e9;
      r.p10 = *r.p10 / 1e9;
      r.p90 = *r.p90 / 1e9;
      return r;
    };
    both_mechanisms(measure);
  }

  // Throughput: 8 threads at once on distinct pages, signal first as the baseline.
  for (const std::size_t page_size : {std::size_t{4} << 10, std::size_t{64} << 10}) {
    const std::size_t pages = opt.quick ? 256 : 2048;  // per thread
    const std::size_t rounds = opt.quick ? 3 : 9;
    auto measure = [&](fault_mechanism m) {
      const auto v = repeated(rounds, [&] { return fault_throughput(m, page_size, pages); });
      return summary_record(
          "throughput_8_threads/" + std::string(uvm::to_string(m)) + "/" + size_label(page_size),
          "faults/s", v,
          {{"page_size", static_cast<std::int64_t>(page_size)},
           {"threads", 8},
           {"pages_per_thread", static_cast<std::int64_t>(pages)}});
    };
    both_mechanisms(measure);
  }
  return records;
}

const suite_registration registration{
    "cpu-fault",
    "per-fault latency of uvm's first-touch and read-to-write upgrade paths under signals vs a "
    "raw mprotect + SIGSEGV round trip and under userfaultfd vs a raw MINOR fault + "
    "UFFDIO_CONTINUE, at 4KiB, 64KiB and 2MiB pages; fault throughput of 8 threads per "
    "mechanism",
    run};

}  // namespace

}  // namespace bench
