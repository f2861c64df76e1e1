// migrate: throughput of the migration engine. A whole range moves host -> device with
// prefetch(device) and, after a kernel dirtied every page, device -> host with prefetch(host),
// at 4KiB, 64KiB and 2MiB pages. Baselines, sampled beside every uvm repetition so drift hits
// both sides alike:
//
//  - memcpy: the same bytes between two pre-faulted host buffers, what the emulated copy engine
//    ultimately does. The ratio's baseline on the emulated device.
//  - cudaMemcpyAsync (cuda backend only): the same bytes between a cudaMallocHost buffer and a
//    cudaMalloc buffer on a stream of its own, what the copy engine does on a GPU (uvm's host
//    pages are pinned with cudaHostRegister). The ratio's baseline there, per direction; the
//    target is a ratio of at least 0.9 at 2MiB pages.
//
// Compiled by nvcc in CUDA builds, so the kernel that dirties the pages runs on the GPU.

#include "bench/backend_probe.hpp"
#include "bench/cuda_support.hpp"
#include "bench/size_label.hpp"
#include "bench/suite.hpp"
#include "bench/throughput_record.hpp"
#include "bench/timing.hpp"

#include <uvm/launch.hpp>
#include <uvm/uvm.hpp>

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <sys/mman.h>
#include <unistd.h>

namespace bench {

namespace {

constexpr std::size_t page_sizes[] = {std::size_t{4} << 10, std::size_t{64} << 10,
                                      std::size_t{2} << 20};

constexpr std::uint32_t kernel_value = 0x5eed5eedu;
constexpr unsigned char init_byte = 0x5a;

struct plan {
  std::size_t bytes;  // data moved per repetition and direction
  std::size_t reps;   // timed repetitions per page size (one untimed warm-up before them)
};

plan plan_for(const options& opt) {
  if (opt.quick) return {std::size_t{64} << 20, 3};
  return {std::size_t{256} << 20, 7};
}

// An ordinary heap buffer, every page written once so no copy into or out of it faults.
class host_buffer {
 public:
  explicit host_buffer(std::size_t bytes) : data_(new unsigned char[bytes]), bytes_(bytes) {
    std::memset(data_.get(), 0x11, bytes);
  }
  [[nodiscard]] unsigned char* data() const noexcept { return data_.get(); }
  [[nodiscard]] std::size_t size() const noexcept { return bytes_; }

 private:
  std::unique_ptr<unsigned char[]> data_;
  std::size_t bytes_;
};

std::uint64_t time_memcpy(host_buffer& dst, const host_buffer& src) {
  const std::uint64_t t0 = now_ns();
  std::atomic_signal_fence(std::memory_order_seq_cst);
  std::memcpy(dst.data(), src.data(), src.size());
  std::atomic_signal_fence(std::memory_order_seq_cst);
  const std::uint64_t t1 = now_ns();
  // Read something back so the copy has an observer.
  if (dst.data()[src.size() - 1] != src.data()[src.size() - 1]) {
    std::fprintf(stderr, "uvm-bench: warning: migrate memcpy baseline copied wrong bytes\n");
  }
  return t1 - t0;
}

enum class direction { h2d, d2h };

#if defined(__CUDACC__)
// cudaMemcpyAsync between pinned host memory and device memory, timed launch to completion like
// prefetch (which returns when its pages are in place).
class dma_baseline {
 public:
  explicit dma_baseline(std::size_t bytes)
      : host_(pinned_alloc<unsigned char>(bytes)),
        device_(device_alloc<unsigned char>(bytes)),
        bytes_(bytes) {
    std::memset(host_.get(), 0x11, bytes);  // every page touched before it is timed
    (void)time(direction::h2d);             // warm-up: the first copies map and set up
    (void)time(direction::d2h);
  }

  [[nodiscard]] std::uint64_t time(direction d) {
    const bool to_device = d == direction::h2d;
    const std::uint64_t t0 = now_ns();
    UVM_BENCH_CUDA_CHECK(cudaMemcpyAsync(
        to_device ? static_cast<void*>(device_.get()) : host_.get(),
        to_device ? static_cast<void*>(host_.get()) : device_.get(), bytes_,
        to_device ? cudaMemcpyHostToDevice : cudaMemcpyDeviceToHost, stream_.get()));
    UVM_BENCH_CUDA_CHECK(cudaStreamSynchronize(stream_.get()));
    return now_ns() - t0;
  }

 private:
  pinned_ptr<unsigned char> host_;
  device_ptr<unsigned char> device_;
  std::size_t bytes_;
  cuda_stream stream_;
};
#endif

// Samples the baselines beside one timed repetition of a direction.
using sample_baselines = std::function<void(direction)>;

void warn_bytes(const char* what, std::size_t page_size, std::size_t rep, std::uint64_t got,
                std::size_t want) {
  if (got != want) {
    std::fprintf(stderr,
                 "uvm-bench: warning: migrate %s at %s, rep %zu: %llu bytes counted for %zu "
                 "bytes moved\n",
                 what, size_label(page_size).c_str(), rep, static_cast<unsigned long long>(got),
                 want);
  }
}

void warn_moved(const char* what, std::size_t page_size, std::size_t rep, std::size_t moved,
                std::size_t pages) {
  if (moved != pages) {
    std::fprintf(stderr,
                 "uvm-bench: warning: migrate %s at %s, rep %zu: prefetch moved %zu of %zu "
                 "pages\n",
                 what, size_label(page_size).c_str(), rep, moved, pages);
  }
}

struct samples {
  std::vector<std::uint64_t> h2d;  // ns per whole-range move
  std::vector<std::uint64_t> d2h;
};

// Every repetition of one page size with one manager. Between repetitions the range goes back
// to the host (that is the D2H move), so each H2D rep moves every page and each D2H rep moves
// every page a kernel has just dirtied. `beside` samples the baselines after each timed move.
// The first rep is an untimed warm-up: it faults in the device frames and the library's lazily
// built state.
void measure(uvm::fault_mechanism m, std::size_t page_size, const plan& p, samples& out,
             const sample_baselines& beside) {
  uvm::config cfg = uvm::config::from_env();  // keeps UVM_BACKEND, UVM_LOG_LEVEL... working
  cfg.page_size = page_size;
  cfg.faults = m;
  cfg.device_budget = 2 * p.bytes;  // everything fits: no eviction, no remote mapping
  uvm::manager mgr(cfg);
  uvm::range r = mgr.allocate(p.bytes);
  const std::size_t pages = r.page_count();
  const std::size_t moved_bytes = pages * page_size;

  // CPU initialisation: every page written, so every page is host-resident.
  std::memset(r.data(), init_byte, p.bytes);

  const auto v = r.view<std::uint32_t>();
  const std::size_t stride = page_size / sizeof(std::uint32_t);  // one element per page

  for (std::size_t rep = 0; rep <= p.reps; ++rep) {
    const bool timed = rep != 0;

    // H2D.
    mgr.reset_stats();
    std::uint64_t t0 = now_ns();
    mgr.prefetch(r.data(), p.bytes, uvm::location::device());
    mgr.synchronize();  // the prefetch is stream-ordered: the time is until the pages are in
    std::uint64_t t1 = now_ns();
    uvm::stats s = mgr.stats();
    std::size_t moved = s.prefetched_pages;
    warn_moved("h2d", page_size, rep, moved, pages);
    warn_bytes("h2d bytes_host_to_device", page_size, rep, s.bytes_host_to_device, moved_bytes);
    if (s.cpu_faults() != 0 || s.device.count != 0) {
      std::fprintf(stderr,
                   "uvm-bench: warning: migrate h2d at %s: %llu cpu / %llu device faults "
                   "during a prefetch\n",
                   size_label(page_size).c_str(), static_cast<unsigned long long>(s.cpu_faults()),
                   static_cast<unsigned long long>(s.device.count));
    }
    if (timed) {
      out.h2d.push_back(t1 - t0);
      beside(direction::h2d);
    }

    // A kernel writes every page, which is resident: no faults, every page dirty on the device.
    mgr.reset_stats();
    // A copy the lambda captures: store() takes a reference, and the constant has no device
    // address.
    const std::uint32_t value = kernel_value;
    uvm::launch(mgr, pages, [=] UVM_HOST_DEVICE(std::size_t i) { v.store(i * stride, value); });
    mgr.synchronize();
    s = mgr.stats();
    if (s.device.count != 0) {
      std::fprintf(stderr,
                   "uvm-bench: warning: migrate at %s: the kernel over prefetched pages took "
                   "%llu device faults\n",
                   size_label(page_size).c_str(), static_cast<unsigned long long>(s.device.count));
    }

    // D2H.
    mgr.reset_stats();
    t0 = now_ns();
    mgr.prefetch(r.data(), p.bytes, uvm::location::host());
    mgr.synchronize();
    t1 = now_ns();
    s = mgr.stats();
    moved = s.prefetched_pages;
    warn_moved("d2h", page_size, rep, moved, pages);
    warn_bytes("d2h bytes_device_to_host", page_size, rep, s.bytes_device_to_host, moved_bytes);
    if (timed) {
      out.d2h.push_back(t1 - t0);
      beside(direction::d2h);
    }

    // The kernel's values must be back on the host (the pages are host-resident: no faults).
    const std::uint64_t faults_before = mgr.stats().cpu_faults();
    std::size_t wrong = 0;
    for (std::size_t i = 0; i < pages; ++i) {
      std::uint32_t x;
      std::memcpy(&x, r.data() + i * page_size, sizeof x);
      wrong += x != kernel_value ? 1 : 0;
    }
    if (wrong != 0) {
      std::fprintf(stderr,
                   "uvm-bench: warning: migrate at %s, rep %zu: %zu pages lack the kernel's "
                   "value after d2h\n",
                   size_label(page_size).c_str(), rep, wrong);
    }
    if (const std::uint64_t f = mgr.stats().cpu_faults() - faults_before; f != 0) {
      std::fprintf(stderr,
                   "uvm-bench: warning: migrate at %s: %llu cpu faults reading pages that d2h "
                   "had brought back\n",
                   size_label(page_size).c_str(), static_cast<unsigned long long>(f));
    }
  }
}

// One protection change over `bytes` of populated shared memory, alternately to no access and
// back to read-write: the host-side work a move does besides copying (the engine narrows access
// before a copy to the device and widens it after a copy back). Not a baseline: it explains the
// distance to memcpy.
std::vector<std::uint64_t> time_mprotect(std::size_t bytes, std::size_t reps) {
  std::vector<std::uint64_t> ns;
  const int fd = memfd_create("uvm-bench-mprotect", MFD_CLOEXEC);
  if (fd < 0 || ftruncate(fd, static_cast<off_t>(bytes)) != 0) return ns;
  void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  close(fd);
  if (p == MAP_FAILED) return ns;
  std::memset(p, 1, bytes);
  for (std::size_t i = 0; i < 2 * reps; ++i) {
    const std::uint64_t t0 = now_ns();
    mprotect(p, bytes, i % 2 == 0 ? PROT_NONE : PROT_READ | PROT_WRITE);
    ns.push_back(now_ns() - t0);
  }
  munmap(p, bytes);
  return ns;
}

record throughput_record(std::string name, std::size_t page_size, std::size_t bytes,
                         const std::vector<std::uint64_t>& ns) {
  return bench::throughput_record("migrate", std::move(name), page_size, bytes, ns);
}

std::vector<record> run(const options& opt) {
  const plan p = plan_for(opt);
  host_buffer a(p.bytes);
  host_buffer b(p.bytes);
  (void)time_memcpy(a, b);  // warm-up
  (void)time_memcpy(b, a);

  std::vector<std::uint64_t> baseline;  // memcpy, one sample beside each move
  std::vector<std::uint64_t> dma_h2d;   // cudaMemcpyAsync (cuda backend only)
  std::vector<std::uint64_t> dma_d2h;
#if defined(__CUDACC__)
  std::optional<dma_baseline> dma;
  if (probe_backend() == uvm::backend_kind::cuda) dma.emplace(p.bytes);
#endif
  const sample_baselines beside = [&](direction d) {
    baseline.push_back(d == direction::h2d ? time_memcpy(a, b) : time_memcpy(b, a));
#if defined(__CUDACC__)
    if (dma) (d == direction::h2d ? dma_h2d : dma_d2h).push_back(dma->time(d));
#endif
  };

  // Under each fault mechanism: the signal one changes protections with mprotect; userfaultfd
  // unmaps pages (MADV_DONTNEED) and maps them back (UFFDIO_CONTINUE), page by page.
  std::vector<uvm::fault_mechanism> mechanisms{uvm::fault_mechanism::signal};
  try {
    uvm::config c = uvm::config::from_env();
    c.faults = uvm::fault_mechanism::userfaultfd;
    c.log = uvm::log_level::off;
    uvm::manager probe(c);
    mechanisms.push_back(uvm::fault_mechanism::userfaultfd);
  } catch (const uvm::error& e) {
    std::fprintf(stderr, "uvm-bench: migrate: no userfaultfd records: %s\n", e.what());
  }
  std::vector<std::vector<samples>> per_mechanism;
  for (const uvm::fault_mechanism m : mechanisms) {
    std::vector<samples> per_size;
    for (const std::size_t page_size : page_sizes) {
      samples s;
      measure(m, page_size, p, s, beside);
      per_size.push_back(std::move(s));
    }
    per_mechanism.push_back(std::move(per_size));
  }

  const record base = throughput_record("memcpy/" + size_label(p.bytes), 0, p.bytes, baseline);
  // On a GPU each direction compares with the DMA copy in that direction; else with memcpy.
  std::optional<record> base_h2d;
  std::optional<record> base_d2h;
  if (!dma_h2d.empty()) {
    base_h2d = throughput_record("cudaMemcpyAsync_h2d/" + size_label(p.bytes), 0, p.bytes, dma_h2d);
    base_d2h = throughput_record("cudaMemcpyAsync_d2h/" + size_label(p.bytes), 0, p.bytes, dma_d2h);
  }
  std::vector<record> records;
  for (std::size_t i = 0; i < mechanisms.size(); ++i) {
    // Signal records keep their historical names; userfaultfd ones are prefixed.
    const std::string prefix = mechanisms[i] == uvm::fault_mechanism::signal ? "" : "uffd_";
    for (std::size_t k = 0; k < std::size(page_sizes); ++k) {
      const std::string label = size_label(page_sizes[k]);
      const samples& s = per_mechanism[i][k];
      record h2d = throughput_record(prefix + "h2d/" + label, page_sizes[k], p.bytes, s.h2d);
      h2d.compare_to(base_h2d.value_or(base));
      record d2h = throughput_record(prefix + "d2h/" + label, page_sizes[k], p.bytes, s.d2h);
      d2h.compare_to(base_d2h.value_or(base));
      records.push_back(std::move(h2d));
      records.push_back(std::move(d2h));
    }
  }
  if (base_h2d) records.insert(records.end(), {*base_h2d, *base_d2h});
  records.push_back(base);
  records.push_back(throughput_record("mprotect/" + size_label(p.bytes), 0, p.bytes,
                                      time_mprotect(p.bytes, p.reps)));
  return records;
}

const suite_registration registration{
    "migrate",
    "throughput of prefetch host->device and device->host (dirty pages) vs a copy of the same "
    "bytes measured beside it (cudaMemcpyAsync pinned<->device on a GPU, host memcpy on the "
    "emulated device), at 4KiB, 64KiB and 2MiB pages, under the signal and (uffd_*) userfaultfd "
    "fault mechanisms",
    run};

}  // namespace

}  // namespace bench
