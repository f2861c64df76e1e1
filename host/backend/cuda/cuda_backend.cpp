#include "host/backend/cuda/cuda_backend.hpp"

#include "host/backend/cuda/cuda_check.hpp"
#include "host/backend/native_device_writers.hpp"
#include "host/common/check.hpp"
#include "host/telemetry/log.hpp"
#include "host/telemetry/nvtx.hpp"

#include <cuda.h>

#include <cerrno>
#include <chrono>
#include <string>
#include <thread>
#include <utility>

#include <sys/mman.h>

#if UVM_HAS_NVTX
#include <nvtx3/nvToolsExtCudaRt.h>
#endif

namespace uvm::detail {

namespace {

struct cuda_stream final : stream_base {
  cudaStream_t s = nullptr;
  device_id device = 0;
  ~cuda_stream() override {
    if (s != nullptr) cudaStreamDestroy(s);
  }
};

struct cuda_event final : event_base {
  cudaEvent_t e = nullptr;
  ~cuda_event() override {
    if (e != nullptr) cudaEventDestroy(e);
  }
};

void name_stream(cudaStream_t s, const std::string& name) noexcept {
#if UVM_HAS_NVTX
  nvtxNameCudaStreamA(s, name.c_str());
#else
  (void)s;
  (void)name;
#endif
}

constexpr std::uint32_t gate_slots = 4096 / sizeof(std::uint32_t);

// Makes a GPU current on the calling thread for a scope and restores the previous one after:
// the library's calls run on the application's threads, whose current device is theirs. If the
// switch fails, the call in the scope fails with the error.
class device_scope {
 public:
  explicit device_scope(int ordinal) noexcept {
    int current = -1;
    if (cudaGetDevice(&current) != cudaSuccess) {
      (void)cudaGetLastError();
      current = -1;
    }
    if (current == ordinal) return;
    if (cudaSetDevice(ordinal) == cudaSuccess) {
      previous_ = current;
    } else {
      (void)cudaGetLastError();
    }
  }
  ~device_scope() {
    if (previous_ >= 0) (void)cudaSetDevice(previous_);
  }
  device_scope(const device_scope&) = delete;
  device_scope& operator=(const device_scope&) = delete;

 private:
  int previous_ = -1;
};

using wait_value_fn = CUresult (*)(CUstream, CUdeviceptr, cuuint32_t, unsigned int);

}  // namespace

struct cuda_backend::cuda_gate final : gate_base {
  cuda_backend* owner = nullptr;
  std::uint32_t slot = 0;
  std::uint32_t value = 0;
  gate_stream waits_on{};  // the gate stream that holds the stream memory wait
  bool opened = false;
  ~cuda_gate() override {
    if (!opened) owner->do_open_gate_slot(*this);
  }
};

namespace {

const cuda_stream& of(const stream& s) {
  const auto* c = dynamic_cast<const cuda_stream*>(s.get());
  UVM_EXPECTS(c != nullptr, "cuda backend: not a stream of the cuda backend");
  return *c;
}

cudaStream_t native(const stream& s) {
  return of(s).s;
}

}  // namespace

cuda_backend::cuda_backend(const std::vector<int>& ordinals) {
  raise_device_connections();  // before the first call creates a context
  const device_probe probe = probe_cuda_devices();
  if (probe.devices == 0) {
    throw cuda_error("cuda backend: no CUDA device is usable: " + probe.reason,
                     100 /* cudaErrorNoDevice */);
  }
  std::string wrong;
  const std::vector<int> chosen = select_gpus(ordinals, probe.devices, &wrong);
  UVM_EXPECTS(wrong.empty(), "cuda backend: {}", wrong);
  // Every optional capability once, before anything depends on one; the paths taken are logged.
  gpus_.reserve(chosen.size());
  std::vector<device_capabilities> caps;
  for (const int o : chosen) {
    gpus_.push_back({.ordinal = o, .caps = probe_cuda_capabilities(o)});
    caps.push_back(gpus_.back().caps);
  }
  paths_ = choose_paths(caps);
  for (const gpu& g : gpus_) log().info("cuda backend: {}", describe(g.caps, paths_));
  if (gpus_.size() > 1 && !paths_.host_pointer_on_device) {
    throw cuda_error(
        "cuda backend: several GPUs, and one of them maps registered host memory at an address "
        "other than the host's (cudaDevAttrCanUseHostPointerForRegisteredMem is 0): a range's "
        "host pages need one address on every GPU; name one GPU with UVM_CUDA_DEVICES",
        801 /* cudaErrorNotSupported */);
  }
  for (gpu& g : gpus_) {
    const device_scope on(g.ordinal);
    cudaStream_t s = nullptr;
    UVM_CUDA_TRY(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking));
    g.zeroing = s;
    name_stream(s, "uvm-zero");
    // Opening a gate returns its stream without allocating: room for one per slot.
    g.free_gate_streams.reserve(gate_slots);
  }
  enable_peers();
  if (gpus_.size() > 1) {
    for (const gpu& g : gpus_) {
      if (const std::string failed = native_device_writers::process().announce(g.ordinal);
          !failed.empty()) {
        log().warn("cuda backend: {}; kernels of that module report foreign_device there", failed);
      }
    }
  }
  void* words = mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (words == MAP_FAILED) throw_system("mmap of the gate words", errno);
  gate_words_ = static_cast<std::uint32_t*>(words);
  {
    const device_scope on(gpus_.front().ordinal);
    UVM_CUDA_TRY(cudaHostRegister(words, 4096, cudaHostRegisterMapped | cudaHostRegisterPortable));
    UVM_CUDA_TRY(cudaHostGetDevicePointer(&gate_words_device_, words, 0));
  }
  slot_values_.assign(gate_slots, 0);
  for (std::uint32_t i = gate_slots; i-- > 0;) free_slots_.push_back(i);
  all_gate_streams_.reserve(std::size_t{gate_slots} * gpus_.size());
  if (!paths_.gates_wait_value) return;  // no gates: queued operations run in their call
  void* fn = nullptr;
  cudaDriverEntryPointQueryResult found{};
  if (cudaGetDriverEntryPointByVersion("cuStreamWaitValue32", &fn, 12000, cudaEnableDefault,
                                       &found) == cudaSuccess &&
      found == cudaDriverEntryPointSuccess) {
    wait_value_.store(fn);
  } else {
    cudaGetLastError();  // this call's own error
  }
}

void cuda_backend::enable_peers() {
  for (device_id from = 0; from < gpus_.size(); ++from) {
    for (device_id to = 0; to < gpus_.size(); ++to) {
      if (from == to) continue;
      int can = 0;
      if (cudaDeviceCanAccessPeer(&can, gpus_[from].ordinal, gpus_[to].ordinal) != cudaSuccess) {
        (void)cudaGetLastError();
        continue;
      }
      if (can == 0) continue;
      // Context-wide and left enabled: the application may rely on it too, and may have enabled
      // it itself.
      const device_scope on(gpus_[from].ordinal);
      const cudaError_t e = cudaDeviceEnablePeerAccess(gpus_[to].ordinal, 0);
      if (e != cudaSuccess && e != cudaErrorPeerAccessAlreadyEnabled) {
        (void)cudaGetLastError();
        log().warn(
            "cuda backend: peer access from GPU {} to GPU {}: {}; pages move between "
            "them through host memory",
            gpus_[from].ordinal, gpus_[to].ordinal, cudaGetErrorString(e));
        continue;
      }
      if (e != cudaSuccess) (void)cudaGetLastError();
      peers_ |= std::uint64_t{1} << (from * max_devices + to);
    }
  }
}

cuda_backend::~cuda_backend() {
  for (const gate_stream& gs : all_gate_streams_) {
    cudaEventDestroy(static_cast<cudaEvent_t>(gs.e));
    cudaStreamDestroy(static_cast<cudaStream_t>(gs.s));
  }
  for (const gpu& g : gpus_) {
    if (g.zeroing != nullptr) cudaStreamDestroy(static_cast<cudaStream_t>(g.zeroing));
  }
  if (gate_words_ != nullptr) {
    cudaHostUnregister(gate_words_);
    munmap(gate_words_, 4096);
  }
}

// A gate never blocks the stream it guards with the wait itself: the stream memory wait sits
// alone on an internal gate stream, and the guarded stream waits for that stream's event
// (cudaStreamWaitEvent). CUDA then sees the dependency (the driver warns that orderings made
// only through wait-value operations are invisible to its scheduler and may deadlock where
// streams share a hardware queue), and a wait-value at the head of a hardware queue holds no
// one else's work: gate streams carry nothing but gates, each one gate at a time (it goes back
// to the free list when its gate opens; a later gate on it waits behind a word already written).
//
// Where the driver has no stream memory operations there is no gate (null): a host function
// that waits for the host would block CUDA's callback thread behind work that is not ordered
// before it, which the runtime forbids (and which deadlocks once two such waits are serialised),
// and a kernel that spins needs an SM that a faulting kernel may hold. The caller then runs the
// operation before it returns (host/migration/move_queue.cpp).
gate cuda_backend::do_enqueue_gate(const stream& s) {
  void* wait = wait_value_.load();
  if (wait == nullptr) return nullptr;
  const cuda_stream& guarded = of(s);
  const device_scope on(gpus_.at(guarded.device).ordinal);
  std::vector<gate_stream>& free_gate_streams = gpus_[guarded.device].free_gate_streams;
  auto g = std::make_shared<cuda_gate>();
  {
    const std::lock_guard lock(gates_mutex_);
    if (free_slots_.empty()) {
      throw error(
          fmt::format("cuda backend: more than {} stream operations queued at once", gate_slots));
    }
    if (free_gate_streams.empty()) {
      cudaStream_t gs = nullptr;
      cudaEvent_t ge = nullptr;
      UVM_CUDA_TRY(cudaStreamCreateWithFlags(&gs, cudaStreamNonBlocking));
      if (const cudaError_t e = cudaEventCreateWithFlags(&ge, cudaEventDisableTiming);
          e != cudaSuccess) {
        cudaStreamDestroy(gs);
        throw_cuda(e, "cudaEventCreateWithFlags (a gate stream's event)", __FILE__, __LINE__);
      }
      name_stream(gs, "uvm-gate");
      all_gate_streams_.push_back({gs, ge, guarded.device});  // capacity: reserved
      free_gate_streams.push_back({gs, ge, guarded.device});
    }
    g->owner = this;
    g->slot = free_slots_.back();
    free_slots_.pop_back();
    g->value = ++slot_values_[g->slot];
    g->waits_on = free_gate_streams.back();
    free_gate_streams.pop_back();
  }
  // From here on the gate owns its slot and its gate stream: a failure opens it (destructor).
  const auto addr = reinterpret_cast<CUdeviceptr>(static_cast<std::byte*>(gate_words_device_) +
                                                  g->slot * sizeof(std::uint32_t));
  const auto gs = static_cast<cudaStream_t>(g->waits_on.s);
  const auto ge = static_cast<cudaEvent_t>(g->waits_on.e);
  // The stream memory wait: the gate stream's later work waits for the word, no SM is used.
  if (reinterpret_cast<wait_value_fn>(wait)(gs, addr, g->value, CU_STREAM_WAIT_VALUE_GEQ) !=
      CUDA_SUCCESS) {
    wait_value_.store(nullptr);  // not supported here after all: no gates from now on
    log().warn(
        "cuda backend: cuStreamWaitValue32 failed; queued prefetches and discards run "
        "before their call returns from now on");
    return nullptr;
  }
  UVM_CUDA_TRY(cudaEventRecord(ge, gs));
  UVM_CUDA_TRY(cudaStreamWaitEvent(guarded.s, ge, 0));
  return g;
}

void cuda_backend::do_open_gate(const gate& g) noexcept {
  if (auto* cg = dynamic_cast<cuda_gate*>(g.get())) do_open_gate_slot(*cg);
}

void cuda_backend::do_open_gate_slot(cuda_gate& g) noexcept {
  if (g.opened) return;
  g.opened = true;
  __atomic_store_n(gate_words_ + g.slot, g.value, __ATOMIC_RELEASE);
  // The word has reached the gate's value: a later gate on the slot uses a larger one, and a
  // later gate on the gate stream waits behind a wait that is over.
  const std::lock_guard lock(gates_mutex_);
  free_slots_.push_back(g.slot);
  if (g.waits_on.s != nullptr) {
    gpus_[g.waits_on.device].free_gate_streams.push_back(g.waits_on);  // capacity: reserved
  }
}

int cuda_backend::ordinal(device_id d, const char* call) const {
  UVM_EXPECTS(d < gpus_.size(), "cuda backend: {} names device {}; the backend drives {}", call, d,
              gpus_.size());
  return gpus_[d].ordinal;
}

void* cuda_backend::do_allocate_device(std::size_t bytes, device_id d, device_fill fill) {
  const device_scope on(ordinal(d, "allocate_device"));
  void* p = nullptr;
  const cudaError_t e = cudaMalloc(&p, bytes);
  if (e == cudaErrorMemoryAllocation) {
    cudaGetLastError();
    throw out_of_memory(fmt::format("cudaMalloc of {} bytes: out of device memory", bytes));
  }
  if (e != cudaSuccess) throw_cuda(e, "cudaMalloc", __FILE__, __LINE__);
  if (fill == device_fill::any) return p;
  // Zeroed, as asked. cudaMemset would run on the legacy stream, unordered with the library's
  // non-blocking streams and stalled by any blocking user stream.
  const auto z = static_cast<cudaStream_t>(gpus_[d].zeroing);
  const cudaError_t m = cudaMemsetAsync(p, 0, bytes, z);
  const cudaError_t w = m == cudaSuccess ? cudaStreamSynchronize(z) : m;
  if (w != cudaSuccess) {
    cudaFree(p);
    throw_cuda(w, "cudaMemsetAsync of new device memory", __FILE__, __LINE__);
  }
  return p;
}

void cuda_backend::do_free_device(void* p) noexcept {
  if (p == nullptr) return;
  cudaPointerAttributes a{};
  int on = -1;
  if (cudaPointerGetAttributes(&a, p) == cudaSuccess) {
    on = a.device;
  } else {
    (void)cudaGetLastError();
  }
  const device_scope scope(on >= 0 ? on : gpus_.front().ordinal);
  if (cudaFree(p) != cudaSuccess) (void)cudaGetLastError();
}

void* cuda_backend::do_register_host(void* p, std::size_t bytes, host_registration how) {
  // A read-only mapping (the zero-page source) must say so: without
  // pageableMemoryAccessUsesHostPageTables (x86/PCIe), CUDA refuses it otherwise.
  constexpr unsigned flags = cudaHostRegisterMapped | cudaHostRegisterPortable;
  const device_scope on(gpus_.front().ordinal);  // portable: registered for every GPU
  if (how == host_registration::read_write) {
    UVM_CUDA_TRY(cudaHostRegister(p, bytes, flags));
  } else if (paths_.zero_source_read_only) {
    UVM_CUDA_TRY(cudaHostRegister(p, bytes, flags | cudaHostRegisterReadOnly));
  } else {
    // No read-only registration on this device: pin the pages from a writable mapping, then
    // make it read-only again. The pinned pages stay (the device only reads them); the caller's
    // read-only mappings are private zero pages, so breaking their sharing costs only memory.
    if (mprotect(p, bytes, PROT_READ | PROT_WRITE) != 0) {
      throw_system("mprotect of a read-only mapping for its registration", errno);
    }
    const cudaError_t e = cudaHostRegister(p, bytes, flags);
    if (mprotect(p, bytes, PROT_READ) != 0 && e == cudaSuccess) {
      const int err = errno;
      cudaHostUnregister(p);
      throw_system("mprotect of a registered mapping back to read-only", err);
    }
    if (e != cudaSuccess) {
      throw_cuda(e, "cudaHostRegister (read-only fallback)", __FILE__, __LINE__);
    }
  }
  void* device_address = nullptr;
  UVM_CUDA_TRY(cudaHostGetDevicePointer(&device_address, p, 0));
  return device_address;
}

void cuda_backend::do_unregister_host(void* p) noexcept {
  if (cudaHostUnregister(p) != cudaSuccess) cudaGetLastError();
}

stream cuda_backend::do_create_stream(std::string_view name, device_id d) {
  const device_scope on(ordinal(d, "create_stream"));
  auto s = std::make_shared<cuda_stream>();
  s->device = d;
  UVM_CUDA_TRY(cudaStreamCreateWithFlags(&s->s, cudaStreamNonBlocking));
  name_stream(s->s, gpus_.size() == 1 ? "uvm-" + std::string(name)
                                      : fmt::format("uvm-{} (GPU {})", name, gpus_[d].ordinal));
  return s;
}

void* cuda_backend::do_native_handle(const stream& s) {
  return native(s);
}

device_id cuda_backend::do_device_of(const stream& s) const {
  return of(s).device;
}

std::size_t cuda_backend::do_default_budget(device_id d) {
  const device_scope on(ordinal(d, "default_budget"));
  // Three quarters of what is free now, leaving room for the application's own allocations,
  // CUDA's context and the page tables.
  std::size_t free = 0, total = 0;
  UVM_CUDA_TRY(cudaMemGetInfo(&free, &total));
  return free / 4 * 3;
}

void cuda_backend::do_copy_async(void* dst, const void* src, std::size_t bytes, copy_kind,
                                 const stream& s) {
  // With UVA the pointers say where each side is: between two GPUs a peer copy where peer
  // access is enabled, staged through host memory by the driver elsewhere.
  const cuda_stream& c = of(s);
  const device_scope on(gpus_[c.device].ordinal);
  UVM_CUDA_TRY(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDefault, c.s));
}

void cuda_backend::do_copy_entries_async(std::uint32_t* dst, const std::uint32_t* src,
                                         std::size_t count, const stream& s) {
  // The copy engine writes aligned 4-byte words whole; no SM is needed, so this proceeds while
  // faulting kernels hold every SM.
  const cuda_stream& c = of(s);
  const device_scope on(gpus_[c.device].ordinal);
  UVM_CUDA_TRY(
      cudaMemcpyAsync(dst, src, count * sizeof(std::uint32_t), cudaMemcpyHostToDevice, c.s));
}

void cuda_backend::do_launch(std::size_t, kernel_body, const stream&) {
  throw error(
      "uvm: parallel_for runs host functors, which only the emulated device can run; on the "
      "cuda backend launch kernels with uvm::launch (<uvm/launch.hpp>) or on a "
      "manager::begin_launch scope's native_stream()");
}

event cuda_backend::do_record(const stream& s) {
  const cuda_stream& c = of(s);
  const device_scope on(gpus_[c.device].ordinal);  // an event is recorded on its own GPU
  auto e = std::make_shared<cuda_event>();
  UVM_CUDA_TRY(cudaEventCreateWithFlags(&e->e, cudaEventDisableTiming));
  UVM_CUDA_TRY(cudaEventRecord(e->e, c.s));
  return e;
}

bool cuda_backend::do_query(const event& e) noexcept {
  const auto* c = dynamic_cast<const cuda_event*>(e.get());
  if (c == nullptr) return false;
  const cudaError_t r = cudaEventQuery(c->e);
  if (r == cudaErrorNotReady) return false;
  if (r != cudaSuccess) {
    // A failed stream (a kernel fault, a lost device) never completes its events: report the
    // event as finished, keep the real error for take_error (once), and let waits end now
    // instead of at their timeout. The error is not cleared: an illegal address in the
    // application's own kernel is the application's to see.
    try {
      const std::lock_guard lock(error_mutex_);
      if (error_.empty()) {
        error_ = fmt::format("{}: {}", cudaGetErrorName(r), cudaGetErrorString(r));
      }
    } catch (...) {
    }
  }
  return true;
}

bool cuda_backend::do_wait(const event& e, std::chrono::nanoseconds timeout) noexcept {
  // cudaEventSynchronize has no timeout: poll. Spin for the first 20 us (most copies of a few
  // pages end there, and a sleep costs ~50 us on Linux), then back off up to 100 us.
  const auto start = std::chrono::steady_clock::now();
  const auto deadline = start + timeout;
  const auto spin = start + std::chrono::microseconds(20);
  auto pause = std::chrono::microseconds(1);
  while (!do_query(e)) {
    const auto now = std::chrono::steady_clock::now();
    if (now >= deadline) return false;
    if (now < spin) continue;
    std::this_thread::sleep_for(pause);
    pause = std::min(pause * 2, std::chrono::microseconds(100));
  }
  return true;
}

std::string cuda_backend::do_take_error() {
  {
    const std::lock_guard lock(error_mutex_);
    if (!error_.empty()) return std::exchange(error_, {});
  }
  // Only errors of the library's own asynchronous work: cudaGetLastError would also take (and
  // clear) the application's launch errors, which are its own to report.
  return {};
}

}  // namespace uvm::detail
