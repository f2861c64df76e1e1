// cpu-fault: per-fault latency of uvm's two inline CPU fault paths (first touch, read-to-write
// upgrade) against a bare mprotect + SIGSEGV round trip on the same memory, at three page sizes.

#include "bench/raw_fault_baseline.hpp"
#include "bench/size_label.hpp"
#include "bench/suite.hpp"
#include "bench/timing.hpp"

#include <uvm/uvm.hpp>

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

namespace bench {

namespace {

constexpr std::size_t page_sizes[] = {std::size_t{4} << 10, std::size_t{64} << 10,
                                      std::size_t{2} << 20};

struct plan {
  std::size_t pages;   // pages per range, one timed fault each
  std::size_t rounds;  // fresh ranges per path, alternating uvm and raw
};

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

// One timed 1-byte write per page, in address order. The signal fences keep the compiler from
// moving the store across the clock reads.
void time_writes(std::byte* base, std::size_t page_size, std::size_t pages,
                 std::vector<std::uint64_t>& out) {
  for (std::size_t i = 0; i < pages; ++i) {
    volatile unsigned char* p = reinterpret_cast<unsigned char*>(base + i * page_size);
    const std::uint64_t t0 = now_ns();
    std::atomic_signal_fence(std::memory_order_seq_cst);
    *p = 1;
    std::atomic_signal_fence(std::memory_order_seq_cst);
    const std::uint64_t t1 = now_ns();
    out.push_back(t1 - t0);
  }
}

void warn_count(const char* what, std::size_t page_size, std::uint64_t got, std::size_t want) {
  if (got != want) {
    std::fprintf(stderr,
                 "uvm-bench: warning: cpu-fault %s at %s: %llu faults counted for %zu pages\n",
                 what, size_label(page_size).c_str(), static_cast<unsigned long long>(got), want);
  }
}

// One round of both uvm paths, with a manager that lives only for the round so the raw
// baseline never runs beside uvm's handler.
void measure_uvm(std::size_t page_size, std::size_t pages, samples& out) {
  uvm::config cfg = uvm::config::from_env();  // keeps UVM_LOG_LEVEL and friends working
  cfg.page_size = page_size;
  uvm::manager mgr(cfg);
  {
    uvm::range r = mgr.allocate(page_size * pages);
    const uvm::stats before = mgr.stats();
    time_writes(r.data(), page_size, pages, out.first_touch);
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
    time_writes(r.data(), page_size, pages, out.upgrade);
    const uvm::stats after = mgr.stats();
    warn_count("upgrade", page_size, after.upgrade.count - before.upgrade.count, pages);
    warn_count("upgrade (all kinds)", page_size, after.cpu_faults() - before.cpu_faults(), pages);
  }
}

void measure_raw(std::size_t page_size, std::size_t pages, samples& out) {
  measure_raw_faults(raw_fault_kind::first_touch, page_size, pages, out.first_touch);
  measure_raw_faults(raw_fault_kind::upgrade, page_size, pages, out.upgrade);
}

record latency_record(std::string name, std::size_t page_size, const plan& p,
                      const std::vector<std::uint64_t>& v) {
  const summary s = summarize(v);
  record r;
  r.suite = "cpu-fault";
  r.name = std::move(name) + "/" + size_label(page_size);
  r.unit = "ns";
  r.value = s.median;
  r.samples = s.count;
  r.p10 = s.p10;
  r.p90 = s.p90;
  r.params = {{"page_size", static_cast<std::int64_t>(page_size)},
              {"pages", static_cast<std::int64_t>(p.pages)},
              {"rounds", static_cast<std::int64_t>(p.rounds)}};
  return r;
}

std::vector<record> run(const options& opt) {
  std::vector<record> records;
  for (const std::size_t page_size : page_sizes) {
    const plan p = plan_for(page_size, opt);
    // An untimed round first, so neither side pays for cold page tables, caches or the
    // library's first-use setup.
    samples warm;
    measure_uvm(page_size, p.pages, warm);
    measure_raw(page_size, p.pages, warm);

    samples uvm_s;
    samples raw_s;
    for (auto* v : {&uvm_s.first_touch, &uvm_s.upgrade, &raw_s.first_touch, &raw_s.upgrade}) {
      v->reserve(p.pages * p.rounds);
    }
    // Alternating which side goes first spreads drift (frequency, background load) evenly.
    for (std::size_t round = 0; round < p.rounds; ++round) {
      if (round % 2 == 0) {
        measure_uvm(page_size, p.pages, uvm_s);
        measure_raw(page_size, p.pages, raw_s);
      } else {
        measure_raw(page_size, p.pages, raw_s);
        measure_uvm(page_size, p.pages, uvm_s);
      }
    }

    const record raw_ft = latency_record("raw_first_touch", page_size, p, raw_s.first_touch);
    record ft = latency_record("first_touch", page_size, p, uvm_s.first_touch);
    ft.compare_to(raw_ft);
    const record raw_up = latency_record("raw_upgrade", page_size, p, raw_s.upgrade);
    record up = latency_record("upgrade", page_size, p, uvm_s.upgrade);
    up.compare_to(raw_up);
    records.insert(records.end(), {ft, raw_ft, up, raw_up});
  }
  return records;
}

const suite_registration registration{
    "cpu-fault",
    "per-fault latency of uvm's first-touch and read-to-write upgrade paths vs a raw "
    "mprotect + SIGSEGV round trip, at 4KiB, 64KiB and 2MiB pages",
    run};

}  // namespace

}  // namespace bench
