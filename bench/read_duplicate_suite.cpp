// read-duplicates: rounds of a kernel reading a range and the CPU then reading it (or writing a
// few of its pages), on the emulated device. Under userfaultfd a CPU read of a device page
// leaves a read-only duplicate whose device copy stays valid until the CPU writes it, so later
// rounds move nothing to the device, or exactly the written pages. The baseline, same run: the
// signal mechanism, where a CPU read takes the page back as the only copy and every round moves
// every page again.

#include "bench/size_label.hpp"
#include "bench/suite.hpp"

#include <uvm/uvm.hpp>

#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

namespace bench {

namespace {

constexpr std::size_t page_size = std::size_t{64} << 10;

struct round_bytes {
  double reads;   // bytes to the device per round after the first, CPU reading
  double writes;  // the same with the CPU writing `written` pages per round
};

round_bytes measure(uvm::fault_mechanism m, std::size_t pages, std::size_t written,
                    std::size_t rounds) {
  uvm::config cfg = uvm::config::from_env();
  cfg.backend = uvm::backend_kind::emulated;  // parallel_for kernels run on the emulated device
  cfg.page_size = page_size;
  cfg.faults = m;
  uvm::manager mgr(cfg);
  constexpr std::size_t per_page = page_size / sizeof(std::uint32_t);
  auto x = mgr.allocate<std::uint32_t>(pages * per_page);
  for (std::size_t i = 0; i < x.size(); ++i) x[i] = static_cast<std::uint32_t>(i);
  const auto v = x.view();
  volatile std::uint64_t sink = 0;
  auto kernel_reads = [&] {
    mgr.parallel_for(pages, [=](std::size_t p) {
      std::uint64_t s = 0;
      for (std::size_t i = 0; i < per_page; i += 1024) s += v.load(p * per_page + i);
      (void)s;
    });
    mgr.synchronize();
  };
  auto cpu_reads = [&] {
    std::uint64_t s = 0;
    for (std::size_t i = 0; i < x.size(); i += 1024) s += x[i];
    sink = s;
  };
  auto h2d_per_round = [&](auto cpu_step) {
    kernel_reads();  // the first round moves every page
    cpu_step(0);
    const std::uint64_t before = mgr.stats().bytes_host_to_device;
    for (std::size_t r = 1; r <= rounds; ++r) {
      kernel_reads();
      cpu_step(r);
    }
    return static_cast<double>(mgr.stats().bytes_host_to_device - before) /
           static_cast<double>(rounds);
  };
  round_bytes out{};
  out.reads = h2d_per_round([&](std::size_t) { cpu_reads(); });
  out.writes = h2d_per_round([&](std::size_t r) {
    cpu_reads();
    for (std::size_t k = 0; k < written; ++k) x[(k * 7 + r) % pages * per_page] += 1;
  });
  return out;
}

record bytes_record(const std::string& name, double value, std::size_t pages, std::size_t written,
                    std::size_t rounds) {
  record r;
  r.suite = "read-duplicates";
  r.name = name;
  r.unit = "bytes/round";
  r.value = value;
  r.samples = rounds;
  r.params = {{"page_size", static_cast<std::int64_t>(page_size)},
              {"pages", static_cast<std::int64_t>(pages)},
              {"written_pages", static_cast<std::int64_t>(written)}};
  return r;
}

std::vector<record> run(const options& opt) {
  const std::size_t pages = opt.quick ? 64 : 512;
  const std::size_t written = 4;
  const std::size_t rounds = opt.quick ? 3 : 10;
  const round_bytes sig = measure(uvm::fault_mechanism::signal, pages, written, rounds);
  std::vector<record> records{
      bytes_record("cpu_reads/signal", sig.reads, pages, 0, rounds),
      bytes_record("cpu_writes/signal", sig.writes, pages, written, rounds)};
  try {
    const round_bytes uf = measure(uvm::fault_mechanism::userfaultfd, pages, written, rounds);
    record reads = bytes_record("cpu_reads/userfaultfd", uf.reads, pages, 0, rounds);
    reads.compare_to(records[0]);
    record writes = bytes_record("cpu_writes/userfaultfd", uf.writes, pages, written, rounds);
    writes.compare_to(records[1]);
    records.push_back(std::move(reads));
    records.push_back(std::move(writes));
  } catch (const uvm::error& e) {
    std::fprintf(stderr, "uvm-bench: read-duplicates: no userfaultfd records: %s\n", e.what());
  }
  return records;
}

const suite_registration registration{
    "read-duplicates",
    "bytes moved to the device per round of a kernel read then a CPU read (or a CPU write of 4 "
    "pages), after the first round, under userfaultfd (read duplicates) vs signals, 64KiB pages",
    run};

}  // namespace

}  // namespace bench
