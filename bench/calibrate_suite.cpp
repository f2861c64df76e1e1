// calibrate: what the device model (uvm/device_model.hpp) needs to know about a GPU, measured on
// the GPU at hand with plain CUDA (no uvm), for bench/fit-profile.py to fit a profile from:
//
//   copy/h2d/<size>, copy/d2h/<size>  cudaMemcpyAsync between pinned host memory and device
//                                     memory, 4 KiB to 32 MiB: device time (events), median, us
//   fault/<n>                         a kernel whose lanes each touch one 4 KiB page of n pages of
//                                     managed memory that the CPU wrote last, one page per 2 MiB
//                                     (no page the driver's prefetcher would bring along): the
//                                     kernel's device time, median, us; fresh memory each sample
//   remote/read                       a kernel streaming 64 MiB of mapped pinned host memory
//                                     (zero-copy), coalesced: GB/s
//   remote/latency                    one lane chasing 512 dependent pointers through mapped host
//                                     memory: us per load
//   memory/read                       a kernel streaming 256 MiB of device memory: GB/s
//   launch                            an empty kernel launched and synchronised: host time, us
//
// Needs a CUDA device: on the emulated backend, or in a build without CUDA, it says why and
// reports one skipped record (as um-compare does).

#include "bench/backend_probe.hpp"
#include "bench/cuda_support.hpp"
#include "bench/size_label.hpp"
#include "bench/suite.hpp"
#include "bench/timing.hpp"

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

namespace bench {

namespace {

constexpr const char* suite_name = "calibrate";

#if defined(__CUDACC__)

record make_record(std::string name, std::string unit) {
  record r;
  r.suite = suite_name;
  r.name = std::move(name);
  r.unit = std::move(unit);
  return r;
}

constexpr std::size_t kib = std::size_t{1} << 10;
constexpr std::size_t mib = std::size_t{1} << 20;

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

record sampled(std::string name, std::string unit, const std::vector<double>& samples) {
  record r = make_record(std::move(name), std::move(unit));
  r.value = median(samples);
  r.samples = samples.size();
  std::vector<double> s = samples;
  std::sort(s.begin(), s.end());
  r.p10 = s[s.size() / 10];
  r.p90 = s[s.size() * 9 / 10];
  return r;
}

__global__ void touch_pages(unsigned char* base, std::size_t stride, std::size_t n,
                            unsigned* sink) {
  const std::size_t i = blockIdx.x * static_cast<std::size_t>(blockDim.x) + threadIdx.x;
  if (i < n) atomicAdd(sink, base[i * stride]);
}

__global__ void read_words(const ::uint4* p, std::size_t n, unsigned* sink) {
  unsigned acc = 0;
  for (std::size_t i = blockIdx.x * static_cast<std::size_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<std::size_t>(gridDim.x) * blockDim.x) {
    const ::uint4 v = p[i];
    acc ^= v.x ^ v.y ^ v.z ^ v.w;
  }
  if (acc == 0x12345678u) atomicAdd(sink, acc);  // keeps the loads
}

__global__ void chase(const std::uint64_t* next, std::size_t hops, unsigned* sink) {
  std::uint64_t at = 0;
  for (std::size_t h = 0; h < hops; ++h) at = next[at];
  atomicAdd(sink, static_cast<unsigned>(at));
}

__global__ void empty_kernel() {}

void copies(std::vector<record>& out, std::size_t reps) {
  const std::size_t largest = 32 * mib;
  const auto host = pinned_alloc<unsigned char>(largest);
  const auto dev = device_alloc<unsigned char>(largest);
  std::fill(host.get(), host.get() + largest, 1);
  const cuda_stream s;
  event_timer t;
  for (std::size_t bytes = 4 * kib; bytes <= largest; bytes *= 2) {
    for (const bool to_device : {true, false}) {
      std::vector<double> us;
      for (std::size_t r = 0; r <= reps; ++r) {
        t.start(s.get());
        UVM_BENCH_CUDA_CHECK(
            to_device
                ? cudaMemcpyAsync(dev.get(), host.get(), bytes, cudaMemcpyHostToDevice, s.get())
                : cudaMemcpyAsync(host.get(), dev.get(), bytes, cudaMemcpyDeviceToHost, s.get()));
        t.stop(s.get());
        const double v = static_cast<double>(t.elapsed_ns()) / 1e3;
        if (r > 0) us.push_back(v);  // the first is a warm-up
      }
      record rec = sampled(std::string("copy/") + (to_device ? "h2d/" : "d2h/") + size_label(bytes),
                           "us", us);
      rec.params = {{"bytes", static_cast<std::int64_t>(bytes)},
                    {"direction", std::string(to_device ? "h2d" : "d2h")}};
      out.push_back(std::move(rec));
    }
  }
}

void faults(std::vector<record>& out, std::size_t reps) {
  const auto sink = device_alloc<unsigned>(1);
  const cuda_stream s;
  event_timer t;
  const std::size_t stride = 2 * mib;  // one page per 2 MiB block: nothing to prefetch
  for (const std::size_t n :
       {std::size_t{16}, std::size_t{64}, std::size_t{256}, std::size_t{1024}}) {
    if (n * stride > free_device_memory() / 2) continue;  // never oversubscribe managed memory
    std::vector<double> us;
    for (std::size_t r = 0; r <= reps; ++r) {
      const auto m = managed_alloc<unsigned char>(n * stride);
      for (std::size_t p = 0; p < n; ++p) m[p * stride] = 1;  // on the host, written
      t.start(s.get());
      touch_pages<<<static_cast<unsigned>((n + 127) / 128), 128, 0, s.get()>>>(m.get(), stride, n,
                                                                               sink.get());
      UVM_BENCH_CUDA_CHECK(cudaGetLastError());
      t.stop(s.get());
      const double v = static_cast<double>(t.elapsed_ns()) / 1e3;
      if (r > 0) us.push_back(v);
    }
    record rec = sampled("fault/" + std::to_string(n), "us", us);
    rec.params = {{"faults", static_cast<std::int64_t>(n)},
                  {"page_bytes", static_cast<std::int64_t>(4 * kib)}};
    out.push_back(std::move(rec));
  }
}

// `name`: a kernel streaming the `bytes` at `p` (device memory, or mapped host memory), in GB/s.
record read_bandwidth(std::string name, const ::uint4* p, std::size_t bytes, std::size_t reps) {
  const auto sink = device_alloc<unsigned>(1);
  const cuda_stream s;
  event_timer t;
  std::vector<double> gbps;
  const unsigned blocks = static_cast<unsigned>(sm_count()) * 8;
  for (std::size_t r = 0; r <= reps; ++r) {
    t.start(s.get());
    read_words<<<blocks, 256, 0, s.get()>>>(p, bytes / sizeof(::uint4), sink.get());
    UVM_BENCH_CUDA_CHECK(cudaGetLastError());
    t.stop(s.get());
    if (r > 0) gbps.push_back(static_cast<double>(bytes) / static_cast<double>(t.elapsed_ns()));
  }
  record bw = sampled(std::move(name), "GB/s", gbps);
  bw.params = {{"bytes", static_cast<std::int64_t>(bytes)}};
  return bw;
}

void remote(std::vector<record>& out, std::size_t reps) {
  const auto sink = device_alloc<unsigned>(1);
  const cuda_stream s;
  event_timer t;
  const std::size_t bytes = 64 * mib;
  void* h = nullptr;
  UVM_BENCH_CUDA_CHECK(cudaHostAlloc(&h, bytes, cudaHostAllocMapped));
  const pinned_ptr<unsigned char> host(static_cast<unsigned char*>(h));
  std::fill(host.get(), host.get() + bytes, 3);
  void* d = nullptr;
  UVM_BENCH_CUDA_CHECK(cudaHostGetDevicePointer(&d, h, 0));
  out.push_back(read_bandwidth("remote/read", static_cast<const ::uint4*>(d), bytes, reps));

  // A chain of dependent loads, each to another 4 KiB page of host memory.
  const std::size_t hops = 512;
  auto* next = reinterpret_cast<std::uint64_t*>(host.get());
  const std::size_t step = 4 * kib / sizeof(std::uint64_t);
  for (std::size_t i = 0; i < hops; ++i) next[i * step] = ((i * 7 + 3) % hops) * step;
  std::vector<double> us;
  for (std::size_t r = 0; r <= reps; ++r) {
    t.start(s.get());
    chase<<<1, 1, 0, s.get()>>>(static_cast<const std::uint64_t*>(d), hops, sink.get());
    UVM_BENCH_CUDA_CHECK(cudaGetLastError());
    t.stop(s.get());
    if (r > 0) us.push_back(static_cast<double>(t.elapsed_ns()) / 1e3 / hops);
  }
  record lat = sampled("remote/latency", "us", us);
  lat.params = {{"hops", static_cast<std::int64_t>(hops)}};
  out.push_back(std::move(lat));
}

void memory_and_launch(std::vector<record>& out, std::size_t reps) {
  const std::size_t bytes = 256 * mib;
  const auto dev = device_alloc<::uint4>(bytes / sizeof(::uint4));
  UVM_BENCH_CUDA_CHECK(cudaMemset(dev.get(), 1, bytes));
  out.push_back(read_bandwidth("memory/read", dev.get(), bytes, reps));
  const cuda_stream s;

  std::vector<double> us;
  for (std::size_t r = 0; r <= 10 * reps; ++r) {
    const std::uint64_t t0 = now_ns();
    empty_kernel<<<1, 1, 0, s.get()>>>();
    UVM_BENCH_CUDA_CHECK(cudaStreamSynchronize(s.get()));
    const std::uint64_t t1 = now_ns();
    if (r > 0) us.push_back(static_cast<double>(t1 - t0) / 1e3);
  }
  out.push_back(sampled("launch", "us", us));
}

std::vector<record> measure_all(const options& opt) {
  const std::size_t reps = opt.quick ? 10 : 50;
  std::vector<record> out;
  copies(out, reps);
  faults(out, opt.quick ? 3 : 10);
  remote(out, reps);
  memory_and_launch(out, reps);
  return out;
}

#endif  // __CUDACC__

std::vector<record> run(const options& opt) {
#if defined(__CUDACC__)
  if (probe_backend() == uvm::backend_kind::cuda) return measure_all(opt);
  return {needs_cuda(suite_name, "us", true)};
#else
  (void)opt;
  return {needs_cuda(suite_name, "us", false)};
#endif
}

const suite_registration registration{
    suite_name,
    "what the device model needs to know about the GPU, with plain CUDA: copies by size and "
    "direction, device faults by count, zero-copy bandwidth and latency, memory bandwidth, "
    "launch; bench/fit-profile.py fits a profile from it. Needs a CUDA device",
    run};

}  // namespace

}  // namespace bench
