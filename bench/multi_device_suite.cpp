// multi-device: several devices in one manager. Two figures, each against a host memcpy of the
// same bytes sampled beside every repetition (what the emulated copy engine ultimately does):
//
//  - d2d: a whole range a kernel on device 0 has written moves to device 1 with prefetch, and
//    back: device to device, nothing through the host (checked with the byte counters).
//  - broadcast: a read-mostly range the host wrote is prefetched to each of three devices, which
//    keeps a read-only duplicate on every one; the baseline is three copies of the bytes. A host
//    write to every page collapses the duplicates again between repetitions.
//
// Both on emulated devices (config::emulated_devices). With two or more GPUs on the cuda backend
// a third figure, gpu-d2d: a range prefetched from GPU 0 to GPU 1 and back, against
// cudaMemcpyPeerAsync of the same bytes between two cudaMalloc buffers, measured beside it.

#include "bench/size_label.hpp"
#include "bench/suite.hpp"
#include "bench/throughput_record.hpp"
#include "bench/timing.hpp"

#include <uvm/uvm.hpp>

#if UVM_HAS_CUDA
#include <cuda_runtime_api.h>
#endif

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace bench {

namespace {

constexpr std::size_t page_sizes[] = {std::size_t{64} << 10, std::size_t{2} << 20};
constexpr int broadcast_devices = 3;

struct plan {
  std::size_t bytes;  // data per move
  std::size_t reps;   // timed repetitions (one untimed warm-up before them)
};

plan plan_for(const options& opt) {
  if (opt.quick) return {std::size_t{32} << 20, 3};
  return {std::size_t{128} << 20, 7};
}

// A pre-faulted heap buffer pair: the memcpy baseline.
struct copy_baseline {
  explicit copy_baseline(std::size_t bytes)
      : a(new unsigned char[bytes]), b(new unsigned char[bytes]), size(bytes) {
    std::memset(a.get(), 1, bytes);
    std::memset(b.get(), 2, bytes);
    (void)time();
  }
  std::uint64_t time() {
    const std::uint64_t t0 = now_ns();
    std::atomic_signal_fence(std::memory_order_seq_cst);
    std::memcpy(a.get(), b.get(), size);
    std::atomic_signal_fence(std::memory_order_seq_cst);
    const std::uint64_t t1 = now_ns();
    if (a[size - 1] != b[size - 1]) std::fprintf(stderr, "uvm-bench: memcpy copied wrong bytes\n");
    return t1 - t0;
  }
  std::unique_ptr<unsigned char[]> a, b;
  std::size_t size;
};

uvm::config devices_config(std::size_t page_size, std::size_t bytes) {
  uvm::config cfg = uvm::config::from_env();
  cfg.backend = uvm::backend_kind::emulated;
  cfg.emulated_devices = broadcast_devices;
  cfg.page_size = page_size;
  cfg.device_budget = 2 * bytes;  // everything fits on each device
  return cfg;
}

void warn(const char* what, std::size_t page_size, unsigned long long got,
          unsigned long long want) {
  if (got != want) {
    std::fprintf(stderr, "uvm-bench: warning: multi-device %s at %s: %llu, expected %llu\n", what,
                 size_label(page_size).c_str(), got, want);
  }
}

// Prefetches the range at `data` (p.bytes, on device 0) to device 1 and back, p.reps + 1 times
// (the first untimed), checking that each move went device to device; each move's time goes to
// `out` and baseline(to)'s, the same bytes moved the plain way, to `base`.
template <class Baseline>
void round_trips(uvm::manager& mgr, void* data, std::size_t page_size, const plan& p,
                 const uvm::stream (&s)[2], const std::string& what,
                 std::vector<std::uint64_t>& out, std::vector<std::uint64_t>& base,
                 Baseline baseline) {
  for (std::size_t rep = 0; rep <= p.reps; ++rep) {
    for (int to = 1; to >= 0; --to) {
      mgr.reset_stats();
      const std::uint64_t t0 = now_ns();
      mgr.prefetch(data, p.bytes, uvm::location::device(to), s[to]);
      mgr.synchronize(s[to]);
      const std::uint64_t t1 = now_ns();
      const uvm::stats st = mgr.stats();
      warn((what + " bytes_device_to_device").c_str(), page_size, st.bytes_device_to_device,
           p.bytes);
      warn((what + " bytes through the host").c_str(), page_size,
           st.bytes_host_to_device + st.bytes_device_to_host, 0);
      const std::uint64_t b = baseline(to);
      if (rep == 0) continue;
      out.push_back(t1 - t0);
      base.push_back(b);
    }
  }
}

// Device 0 -> 1 and back, each a timed sample.
void measure_d2d(std::size_t page_size, const plan& p, std::vector<std::uint64_t>& out,
                 std::vector<std::uint64_t>& base, copy_baseline& copy) {
  uvm::manager mgr(devices_config(page_size, p.bytes));
  auto v = mgr.allocate<std::uint32_t>(p.bytes / sizeof(std::uint32_t));
  const std::size_t pages = p.bytes / page_size;
  const std::size_t stride = page_size / sizeof(std::uint32_t);
  std::memset(v.data(), 0x5a, p.bytes);
  const uvm::stream s[2] = {mgr.create_stream("d2d-0", 0), mgr.create_stream("d2d-1", 1)};
  mgr.prefetch(v.data(), p.bytes, uvm::location::device(0), s[0]);
  const auto view = v.view();
  mgr.parallel_for(
      pages, [=](std::size_t i) { view.store(i * stride, 7); }, s[0]);
  mgr.synchronize();
  round_trips(mgr, v.data(), page_size, p, s, "d2d", out, base, [&](int) { return copy.time(); });
  std::size_t wrong = 0;
  for (std::size_t i = 0; i < pages; ++i) wrong += v[i * stride] != 7 ? 1 : 0;
  warn("d2d pages without the kernel's value", page_size, wrong, 0);
}

// Prefetch of a read-mostly range to every device (duplicates), against that many copies.
void measure_broadcast(std::size_t page_size, const plan& p, std::vector<std::uint64_t>& out,
                       std::vector<std::uint64_t>& base, copy_baseline& copy) {
  uvm::manager mgr(devices_config(page_size, p.bytes));
  uvm::range r = mgr.allocate(p.bytes);
  const std::size_t pages = r.page_count();
  std::memset(r.data(), 0x5a, p.bytes);
  mgr.advise(r.data(), p.bytes, uvm::advice::set_read_mostly);
  std::vector<uvm::stream> s;
  for (int d = 0; d < broadcast_devices; ++d) s.push_back(mgr.create_stream("broadcast", d));
  for (std::size_t rep = 0; rep <= p.reps; ++rep) {
    mgr.reset_stats();
    const std::uint64_t t0 = now_ns();
    for (int d = 0; d < broadcast_devices; ++d) {
      mgr.prefetch(r.data(), p.bytes, uvm::location::device(d), s[static_cast<std::size_t>(d)]);
    }
    mgr.synchronize();
    const std::uint64_t t1 = now_ns();
    const uvm::stats st = mgr.stats();
    warn("broadcast bytes_host_to_device", page_size, st.bytes_host_to_device,
         broadcast_devices * p.bytes);
    if (mgr.state_of(r.data()) != uvm::page_state::shared) {
      std::fprintf(stderr, "uvm-bench: warning: multi-device broadcast: pages not duplicated\n");
    }
    if (rep != 0) {
      out.push_back(t1 - t0);
      std::uint64_t b = 0;
      for (int d = 0; d < broadcast_devices; ++d) b += copy.time();
      base.push_back(b);
    }
    for (std::size_t i = 0; i < pages; ++i) r.data()[i * page_size] = std::byte{0x5a};  // collapse
  }
}

#if UVM_HAS_CUDA
void check(cudaError_t e, const char* what) {
  if (e == cudaSuccess) return;
  (void)cudaGetLastError();
  throw std::runtime_error(std::string("multi-device gpu-d2d: ") + what + ": " +
                           cudaGetErrorString(e));
}

// A cudaMalloc buffer on one GPU and a stream there.
struct gpu_buffer {
  gpu_buffer(int gpu, std::size_t bytes) {
    check(cudaSetDevice(gpu), "cudaSetDevice");
    check(cudaMalloc(&p, bytes), "cudaMalloc");
    check(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking), "cudaStreamCreate");
  }
  ~gpu_buffer() {
    (void)cudaStreamDestroy(s);
    (void)cudaFree(p);
  }
  gpu_buffer(const gpu_buffer&) = delete;
  gpu_buffer& operator=(const gpu_buffer&) = delete;
  void* p = nullptr;
  cudaStream_t s = nullptr;
};

// GPU 0 -> 1 and back through the manager, each beside a cudaMemcpyPeerAsync of the same bytes.
// @return false (nothing measured) without two GPUs on the cuda backend.
bool measure_gpu_d2d(std::size_t page_size, const plan& p, std::vector<std::uint64_t>& out,
                     std::vector<std::uint64_t>& base) {
  uvm::config cfg = uvm::config::from_env();
  int visible = 0;
  if (cfg.backend == uvm::backend_kind::emulated || cudaGetDeviceCount(&visible) != cudaSuccess ||
      visible < 2 || (cfg.cuda_devices.size() == 1)) {
    (void)cudaGetLastError();
    return false;
  }
  cfg.backend = uvm::backend_kind::cuda;
  cfg.page_size = page_size;
  cfg.device_budget = 2 * p.bytes;
  const int gpu[2] = {cfg.cuda_devices.empty() ? 0 : static_cast<int>(cfg.cuda_devices[0]),
                      cfg.cuda_devices.empty() ? 1 : static_cast<int>(cfg.cuda_devices[1])};
  uvm::manager mgr(cfg);
  uvm::range r = mgr.allocate(p.bytes);
  std::memset(r.data(), 0x5a, p.bytes);
  const uvm::stream s[2] = {mgr.create_stream("gpu-d2d-0", 0), mgr.create_stream("gpu-d2d-1", 1)};
  mgr.prefetch(r.data(), p.bytes, uvm::location::device(0), s[0]);
  mgr.synchronize();
  gpu_buffer buf[2] = {gpu_buffer(gpu[0], p.bytes), gpu_buffer(gpu[1], p.bytes)};
  round_trips(mgr, r.data(), page_size, p, s, "gpu-d2d", out, base, [&](int to) {
    const int from = 1 - to;
    const std::uint64_t b0 = now_ns();
    check(cudaMemcpyPeerAsync(buf[to].p, gpu[to], buf[from].p, gpu[from], p.bytes, buf[to].s),
          "cudaMemcpyPeerAsync");
    check(cudaStreamSynchronize(buf[to].s), "cudaStreamSynchronize");
    return now_ns() - b0;
  });
  return true;
}
#endif

record throughput(std::string name, std::size_t page_size, std::size_t bytes,
                  const std::vector<std::uint64_t>& ns) {
  return throughput_record("multi-device", std::move(name), page_size, bytes, ns);
}

std::vector<record> run(const options& opt) {
  const plan p = plan_for(opt);
  copy_baseline copy(p.bytes);
  std::vector<record> records;
  for (const std::size_t page_size : page_sizes) {
    const std::string label = size_label(page_size);
    std::vector<std::uint64_t> d2d, d2d_base, bc, bc_base;
    measure_d2d(page_size, p, d2d, d2d_base, copy);
    measure_broadcast(page_size, p, bc, bc_base, copy);
    record base = throughput("memcpy/d2d/" + label, 0, p.bytes, d2d_base);
    record r = throughput("d2d/" + label, page_size, p.bytes, d2d);
    r.compare_to(base);
    records.push_back(std::move(r));
    records.push_back(std::move(base));
    const std::size_t bc_bytes = broadcast_devices * p.bytes;
    record bbase = throughput("memcpy/broadcast3/" + label, 0, bc_bytes, bc_base);
    record b = throughput("broadcast3/" + label, page_size, bc_bytes, bc);
    b.compare_to(bbase);
    records.push_back(std::move(b));
    records.push_back(std::move(bbase));
#if UVM_HAS_CUDA
    std::vector<std::uint64_t> gd, gd_base;
    if (measure_gpu_d2d(page_size, p, gd, gd_base)) {
      record gbase = throughput("cudaMemcpyPeerAsync/gpu-d2d/" + label, 0, p.bytes, gd_base);
      record g = throughput("gpu-d2d/" + label, page_size, p.bytes, gd);
      g.compare_to(gbase);
      records.push_back(std::move(g));
      records.push_back(std::move(gbase));
    }
#endif
  }
  return records;
}

const suite_registration registration{
    "multi-device",
    "several emulated devices in one manager: prefetch of a written range device 0 -> 1 and back "
    "(device to device, nothing through the host) and of a read-mostly range to three devices "
    "(a duplicate on each), vs host memcpy of the same bytes measured beside them, at 64KiB and "
    "2MiB pages; with two GPUs also GPU 0 -> 1 and back vs cudaMemcpyPeerAsync",
    run};

}  // namespace

}  // namespace bench
