// kernel-fault: the device fault path and the CPU fault that brings a device-written page back,
// at 64KiB pages.
//
//  (a) A kernel touches (writes one element of) each of N host-resident pages: every access is a
//      device fault served by the fault service thread. Reported as faults per second (N over the
//      kernel's wall time, launch to synchronize), as wall time per fault, and as the library's
//      own service latency (stats().device.latency: from the device's fault record to the page
//      table entry, one sample per page, shared by the pages of one batch).
//  (b) After a kernel wrote every page, one timed CPU 1-byte read per page: each is a CPU fault
//      whose page comes back from the device. Its baseline is the cpu-fault floor (a bare
//      mprotect + SIGSEGV first touch, bench/raw_fault_baseline.hpp) plus one page memcpy
//      between host buffers, both measured in the same run and emitted as records of their own.
//  Both are broken down into their stages (stats().device_stages and serviced_stages), one
//  record per stage: device_fault_stage/<stage> and cpu_read_stage/<stage>, so that a change
//  shows which stage it moved; and the fault service thread's CPU time per fault
//  (stats().service_cpu_time), what serving them costs the host. Under userfaultfd a CPU read
//  is mostly resolved on the handler's thread, not the service's: (b) also reports the CPU time
//  of every thread but the reader's per read (other_cpu_per_cpu_read).
//
// Compiled by nvcc in CUDA builds, so on a GPU the kernel is a real one (uvm::launch).

#include "bench/raw_fault_baseline.hpp"
#include "bench/size_label.hpp"
#include "bench/suite.hpp"
#include "bench/timing.hpp"

#include <uvm/launch.hpp>
#include <uvm/uvm.hpp>

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace bench {

namespace {

constexpr std::size_t page_size = std::size_t{64} << 10;
constexpr std::uint32_t kernel_value = 0xfa017fa0u;

struct plan {
  std::size_t pages;   // N
  std::size_t rounds;  // timed rounds, alternating uvm and baselines (one untimed warm-up first)
};

plan plan_for(const options& opt) {
  if (opt.quick) return {1024, 2};
  return {4096, 6};
}

struct samples {
  std::vector<std::uint64_t> kernel_ns;   // (a) launch to synchronize, one per round
  std::vector<std::uint64_t> cpu_read;    // (b) one per page
  std::vector<std::uint64_t> raw_fault;   // baseline: raw first touch, one per page
  std::vector<std::uint64_t> page_copy;   // baseline: one page memcpy, one per page
  uvm::latency_histogram device_latency;  // (a) summed over rounds
  std::uint64_t device_faults = 0;
  uvm::device_fault_stages device_stages;   // (a), summed over rounds
  std::uint64_t device_service_cpu_ns = 0;  // (a): the service thread's CPU time, summed
  uvm::cpu_fault_stages cpu_stages;         // (b), summed over rounds
  std::uint64_t cpu_service_cpu_ns = 0;     // (b): the service thread's CPU time, summed
  std::uint64_t cpu_reads = 0;              // (b): faults counted
  std::uint64_t cpu_other_cpu_ns = 0;       // (b): CPU time of the threads but the reader's
};

void add(uvm::latency_histogram& into, const uvm::latency_histogram& h) {
  for (std::size_t i = 0; i < h.buckets.size(); ++i) into.buckets[i] += h.buckets[i];
  into.total_ns += h.total_ns;
}

// The stages in the order a fault passes them, with their record names.
template <class Stages>
using stage_list = std::vector<std::pair<const char*, uvm::latency_histogram Stages::*>>;

const stage_list<uvm::device_fault_stages> device_stage_list{
    {"queued", &uvm::device_fault_stages::queued},
    {"planned", &uvm::device_fault_stages::planned},
    {"issued", &uvm::device_fault_stages::issued},
    {"landed", &uvm::device_fault_stages::landed},
    {"published", &uvm::device_fault_stages::published}};
const stage_list<uvm::cpu_fault_stages> cpu_stage_list{{"queued", &uvm::cpu_fault_stages::queued},
                                                       {"waited", &uvm::cpu_fault_stages::waited},
                                                       {"copied", &uvm::cpu_fault_stages::copied},
                                                       {"opened", &uvm::cpu_fault_stages::opened},
                                                       {"woken", &uvm::cpu_fault_stages::woken}};

template <class Stages>
void add_stages(Stages& into, const Stages& from, const stage_list<Stages>& list) {
  for (const auto& [name, member] : list) add(into.*member, from.*member);
}

void warn_count(const char* what, std::uint64_t got, std::size_t want) {
  if (got != want) {
    std::fprintf(stderr, "uvm-bench: warning: kernel-fault %s at %s: %llu counted for %zu pages\n",
                 what, size_label(page_size).c_str(), static_cast<unsigned long long>(got), want);
  }
}

// One round of (a) and (b) with a manager that lives only for the round, so the raw baseline
// never runs beside uvm's SIGSEGV handler.
void measure_uvm(std::size_t pages, samples& out, bool keep) {
  const std::size_t bytes = pages * page_size;
  uvm::config cfg = uvm::config::from_env();  // keeps UVM_BACKEND, UVM_LOG_LEVEL... working
  cfg.page_size = page_size;
  cfg.device_budget = 2 * bytes;  // every page gets a frame: no eviction, no remote mapping
  uvm::manager mgr(cfg);
  uvm::range r = mgr.allocate(bytes);
  std::memset(r.data(), 0x5a, bytes);  // host-resident, every page

  const auto v = r.view<std::uint32_t>();
  const std::size_t stride = page_size / sizeof(std::uint32_t);

  // (a) N device faults, one per page.
  mgr.reset_stats();
  const std::uint64_t t0 = now_ns();
  // A copy the lambda captures: store() takes a reference, and the constant has no device
  // address.
  const std::uint32_t value = kernel_value;
  uvm::launch(mgr, pages, [=] UVM_HOST_DEVICE(std::size_t i) { v.store(i * stride, value); });
  mgr.synchronize();
  const std::uint64_t t1 = now_ns();
  const uvm::stats s = mgr.stats();
  warn_count("device faults", s.device.count, pages);
  warn_count("bytes_host_to_device / page_size", s.bytes_host_to_device / page_size, pages);
  if (s.remote_mappings != 0 || s.evictions != 0) {
    std::fprintf(stderr, "uvm-bench: warning: kernel-fault: %llu remote mappings, %llu evictions\n",
                 static_cast<unsigned long long>(s.remote_mappings),
                 static_cast<unsigned long long>(s.evictions));
  }

  // (b) Every page is now dirty on the device: one timed CPU read per page, each a fault that
  // copies the page back.
  mgr.reset_stats();
  std::vector<std::uint64_t> reads;
  reads.reserve(pages);
  std::size_t wrong = 0;
  const std::uint64_t process0 = clock_ns(CLOCK_PROCESS_CPUTIME_ID);
  const std::uint64_t reader0 = clock_ns(CLOCK_THREAD_CPUTIME_ID);
  for (std::size_t i = 0; i < pages; ++i) {
    const volatile unsigned char* p = reinterpret_cast<unsigned char*>(r.data() + i * page_size);
    const std::uint64_t r0 = now_ns();
    std::atomic_signal_fence(std::memory_order_seq_cst);
    const unsigned char c = *p;
    std::atomic_signal_fence(std::memory_order_seq_cst);
    const std::uint64_t r1 = now_ns();
    reads.push_back(r1 - r0);
    wrong += c != static_cast<unsigned char>(kernel_value & 0xff) ? 1 : 0;  // little-endian
  }
  const std::uint64_t reader = clock_ns(CLOCK_THREAD_CPUTIME_ID) - reader0;
  const std::uint64_t process = clock_ns(CLOCK_PROCESS_CPUTIME_ID) - process0;
  const uvm::stats after = mgr.stats();
  warn_count("cpu faults on device-written pages", after.cpu_faults(), pages);
  warn_count("bytes_device_to_host / page_size", after.bytes_device_to_host / page_size, pages);
  if (wrong != 0) {
    std::fprintf(stderr,
                 "uvm-bench: warning: kernel-fault: %zu pages read without the kernel's "
                 "value\n",
                 wrong);
  }

  if (!keep) return;
  out.kernel_ns.push_back(t1 - t0);
  add(out.device_latency, s.device.latency);
  out.device_faults += s.device.count;
  add_stages(out.device_stages, s.device_stages, device_stage_list);
  add_stages(out.cpu_stages, after.serviced_stages, cpu_stage_list);
  out.device_service_cpu_ns += static_cast<std::uint64_t>(s.service_cpu_time.count());
  out.cpu_service_cpu_ns += static_cast<std::uint64_t>(after.service_cpu_time.count());
  out.cpu_reads += after.serviced.count;
  out.cpu_other_cpu_ns += process > reader ? process - reader : 0;
  out.cpu_read.insert(out.cpu_read.end(), reads.begin(), reads.end());
}

// One page memcpy per page, page i of a pre-faulted source buffer to page i of a pre-faulted
// destination buffer: each copy touches memory the previous ones did not, like the fault path
// copying distinct device frames into distinct host pages.
void measure_page_copies(std::size_t pages, std::vector<std::uint64_t>& out) {
  const std::size_t bytes = pages * page_size;
  std::unique_ptr<unsigned char[]> src(new unsigned char[bytes]);
  std::unique_ptr<unsigned char[]> dst(new unsigned char[bytes]);
  std::memset(src.get(), 0x33, bytes);
  std::memset(dst.get(), 0x44, bytes);
  for (std::size_t i = 0; i < pages; ++i) {
    const std::uint64_t t0 = now_ns();
    std::atomic_signal_fence(std::memory_order_seq_cst);
    std::memcpy(dst.get() + i * page_size, src.get() + i * page_size, page_size);
    std::atomic_signal_fence(std::memory_order_seq_cst);
    const std::uint64_t t1 = now_ns();
    out.push_back(t1 - t0);
  }
  if (dst[bytes - 1] != 0x33) {
    std::fprintf(stderr,
                 "uvm-bench: warning: kernel-fault page memcpy baseline copied wrong "
                 "bytes\n");
  }
}

void measure_baselines(std::size_t pages, samples& out, bool keep) {
  std::vector<std::uint64_t> raw;
  std::vector<std::uint64_t> copies;
  measure_raw_faults(raw_fault_kind::first_touch, page_size, pages, raw);
  measure_page_copies(pages, copies);
  if (!keep) return;
  out.raw_fault.insert(out.raw_fault.end(), raw.begin(), raw.end());
  out.page_copy.insert(out.page_copy.end(), copies.begin(), copies.end());
}

record make_record(std::string name, std::string unit, const plan& p) {
  record r;
  r.suite = "kernel-fault";
  r.name = std::move(name) + "/" + size_label(page_size);
  r.unit = std::move(unit);
  r.params = {{"page_size", static_cast<std::int64_t>(page_size)},
              {"pages", static_cast<std::int64_t>(p.pages)},
              {"rounds", static_cast<std::int64_t>(p.rounds)}};
  return r;
}

record histogram_record(std::string name, const plan& p, const uvm::latency_histogram& h) {
  record r = make_record(std::move(name), "ns", p);
  r.value = static_cast<double>(h.quantile(0.5).count());
  r.samples = static_cast<std::size_t>(h.count());
  r.p10 = static_cast<double>(h.quantile(0.1).count());
  r.p90 = static_cast<double>(h.quantile(0.9).count());
  r.params.push_back({"mean_ns", static_cast<double>(h.mean().count())});
  return r;
}

template <class Stages>
void stage_records(std::string prefix, const plan& p, const Stages& s,
                   const stage_list<Stages>& list, std::vector<record>& out) {
  for (const auto& [name, member] : list) {
    if ((s.*member).count() != 0) out.push_back(histogram_record(prefix + name, p, s.*member));
  }
}

record latency_record(std::string name, const plan& p, const std::vector<std::uint64_t>& v) {
  const summary s = summarize(v);
  record r = make_record(std::move(name), "ns", p);
  r.value = s.median;
  r.samples = s.count;
  r.p10 = s.p10;
  r.p90 = s.p90;
  return r;
}

std::vector<record> run(const options& opt) {
  const plan p = plan_for(opt);

  samples warm;  // untimed: cold page tables, caches and the library's first-use setup
  measure_uvm(p.pages, warm, false);
  measure_baselines(p.pages, warm, false);

  samples s;
  for (std::size_t round = 0; round < p.rounds; ++round) {
    if (round % 2 == 0) {
      measure_uvm(p.pages, s, true);
      measure_baselines(p.pages, s, true);
    } else {
      measure_baselines(p.pages, s, true);
      measure_uvm(p.pages, s, true);
    }
  }

  std::vector<record> records;
  const double n = static_cast<double>(p.pages);

  // (a) faults/s from the kernel wall time: the fastest 10% of kernels are the top 10% rate.
  {
    const summary k = summarize(s.kernel_ns);
    record r = make_record("device_faults_per_s", "faults/s", p);
    const auto rate = [n](double ns) { return ns > 0 ? n / (ns * 1e-9) : 0.0; };
    r.value = rate(k.median);
    r.samples = k.count;
    r.p10 = rate(k.p90);
    r.p90 = rate(k.p10);
    records.push_back(std::move(r));

    record w = make_record("device_fault_wall_per_page", "ns", p);
    w.value = k.median / n;
    w.samples = k.count;
    w.p10 = k.p10 / n;
    w.p90 = k.p90 / n;
    records.push_back(std::move(w));
  }
  records.push_back(histogram_record("device_fault_service", p, s.device_latency));
  stage_records("device_fault_stage/", p, s.device_stages, device_stage_list, records);
  // What serving costs the host: the service thread's CPU time (polling included) per fault.
  const auto per_fault = [&](std::string name, std::uint64_t ns, std::uint64_t faults) {
    record r = make_record(std::move(name), "ns", p);
    r.value = faults != 0 ? static_cast<double>(ns) / static_cast<double>(faults) : 0.0;
    r.samples = static_cast<std::size_t>(faults);
    records.push_back(std::move(r));
  };
  per_fault("service_cpu_per_device_fault", s.device_service_cpu_ns, s.device_faults);

  // (b) against the cpu-fault floor plus one page copy.
  const record raw = latency_record("raw_first_touch", p, s.raw_fault);
  const record copy = latency_record("page_memcpy", p, s.page_copy);
  record floor = make_record("raw_fault+memcpy", "ns", p);
  floor.value = raw.value + copy.value;
  record read = latency_record("cpu_read_after_kernel", p, s.cpu_read);
  read.compare_to(floor);
  records.insert(records.end(), {read, raw, copy});
  stage_records("cpu_read_stage/", p, s.cpu_stages, cpu_stage_list, records);
  per_fault("service_cpu_per_cpu_read", s.cpu_service_cpu_ns, s.cpu_reads);
  per_fault("other_cpu_per_cpu_read", s.cpu_other_cpu_ns, s.cpu_reads);
  return records;
}

const suite_registration registration{
    "kernel-fault",
    "device faults per second and service time for a kernel touching host-resident pages, and "
    "the CPU read fault on a device-written page vs raw fault + page memcpy, at 64KiB pages",
    run};

}  // namespace

}  // namespace bench
