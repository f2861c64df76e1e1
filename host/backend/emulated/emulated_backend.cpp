#include "host/backend/emulated/emulated_backend.hpp"

#include "host/backend/emulated/emulated_event.hpp"
#include "host/backend/emulated/emulated_stream.hpp"
#include "host/common/check.hpp"

#include <uvm/error.hpp>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <iterator>
#include <string>
#include <system_error>
#include <thread>
#include <utility>

#include <fmt/format.h>

namespace uvm::detail {
namespace {

// Whether every mapping over [start, start + bytes) may be written, read from /proc/self/maps:
// nothing in the range is touched (the memory may be in use: a range is registered late, once
// no kernel runs, while the application writes it). If the maps cannot be read, nothing is
// refused.
bool writable_mapping(std::uintptr_t start, std::size_t bytes) {
  std::FILE* maps = std::fopen("/proc/self/maps", "re");
  if (maps == nullptr) return true;
  const std::uintptr_t end = start + bytes;
  std::uintptr_t covered = start;  // [start, covered) is known writable
  bool writable = true;
  char line[512];
  while (writable && covered < end && std::fgets(line, sizeof line, maps) != nullptr) {
    unsigned long lo = 0;
    unsigned long hi = 0;
    char perms[5] = {};
    if (std::sscanf(line, "%lx-%lx %4s", &lo, &hi, perms) != 3) continue;
    if (hi <= covered || lo >= end) continue;
    if (lo > covered || perms[1] != 'w') writable = false;  // a hole, or read-only
    covered = hi;
  }
  std::fclose(maps);
  return writable && covered >= end;
}

// How long a memory operation waits for running kernels (as CUDA orders it after them) before it
// fails: past it, the caller would have deadlocked on a GPU.
constexpr std::chrono::minutes device_sync_bound{1};

unsigned default_workers(unsigned requested) {
  if (requested > 0) return requested;
  return std::max(2u, std::thread::hardware_concurrency());
}

// Thread names have 15 characters: "uvm-ce-h2d" on device 0, "uvm-ce3-h2d" on device 3.
std::string engine_name(device_id id, std::string_view direction) {
  return id == 0 ? fmt::format("uvm-ce-{}", direction) : fmt::format("uvm-ce{}-{}", id, direction);
}

}  // namespace

emulated_backend::device::device(device_id id, unsigned workers, error_sink& errors)
    : h2d(engine_name(id, "h2d")),
      d2h(engine_name(id, "d2h")),
      d2d(engine_name(id, "d2d")),
      kernels(workers, errors, id) {}

emulated_backend::emulated_backend(unsigned kernel_workers, device_id devices, short_copies copies)
    : short_copies_(copies) {
  UVM_EXPECTS(devices >= 1 && devices <= max_devices,
              "emulated device: {} devices asked for; between 1 and {} can be emulated", devices,
              max_devices);
  devices_.reserve(devices);
  for (device_id d = 0; d < devices; ++d) {
    devices_.push_back(std::make_unique<device>(d, default_workers(kernel_workers), errors_));
  }
}

emulated_backend::~emulated_backend() {
  // Streams first: their queued operations still use the engines and the kernel pool, which the
  // member destructors join afterwards.
  std::vector<std::shared_ptr<stream_core>> streams;
  {
    const std::lock_guard lock(streams_mutex_);
    streams.swap(streams_);
  }
  for (auto& s : streams) s->close();  // all drain in parallel, as they would on a device
  for (auto& s : streams) s->join();
  for (const auto& entry : device_) device_memory::process().unmap(entry.second);
}

void emulated_backend::expect_device(device_id d, const char* call) const {
  UVM_EXPECTS(d < devices_.size(), "emulated device: {} names device {}; there are {}", call, d,
              devices_.size());
}

bool emulated_backend::kernels_idle_within(std::chrono::nanoseconds bound) noexcept {
  const auto deadline = std::chrono::steady_clock::now() + bound;
  return std::all_of(devices_.begin(), devices_.end(), [&](const std::unique_ptr<device>& d) {
    return d->kernels.wait_idle(deadline - std::chrono::steady_clock::now());
  });
}

void emulated_backend::wait_for_kernels(const char* call) {
  if (kernels_idle_within(device_sync_bound)) return;
  throw uvm::timeout(fmt::format(
      "emulated device: {} waited {} s for running kernels, as CUDA orders it after them; on a "
      "GPU a kernel waiting for the caller would never end",
      call, std::chrono::seconds(device_sync_bound).count()));
}

bool emulated_backend::wait_for_kernels_noexcept(const char* call, const void* p) noexcept {
  if (kernels_idle_within(device_sync_bound)) return true;
  // No caller to throw to: the error is sticky, like a device error, and the memory leaks
  // rather than leaving under a kernel.
  const long long s = std::chrono::seconds(device_sync_bound).count();
  std::fprintf(stderr,
               "[uvm] [error] emulated device: %s(%p) waited %lld s for running kernels; the "
               "memory is leaked\n",
               call, p, s);
  try {
    errors_.report(
        fmt::format("emulated device: {}({}) waited {} s for running kernels, as CUDA "
                    "orders it after them; the memory is leaked",
                    call, p, s));
  } catch (...) {
    // The message could not be formatted: the line on stderr says it.
  }
  return false;
}

void* emulated_backend::do_allocate_device(std::size_t bytes, device_id d, device_fill fill) {
  UVM_EXPECTS(bytes > 0, "allocate_device: zero bytes");
  expect_device(d, "allocate_device");
  wait_for_kernels("allocate_device");  // cudaMalloc may synchronise with the device
  const device_memory::block b = device_memory::process().map(bytes, fill == device_fill::zeros);
  try {
    const std::lock_guard lock(memory_mutex_);
    device_.emplace(b.p, b);
  } catch (...) {
    device_memory::process().unmap(b);
    throw;
  }
  return b.p;
}

void emulated_backend::do_free_device(void* p) noexcept {
  if (p == nullptr) return;
  // cudaFree waits for the device: so does this, bounded. Past the bound the memory is leaked
  // rather than unmapped under a kernel.
  if (!wait_for_kernels_noexcept("free_device", p)) return;
  device_memory::block b;
  {
    const std::lock_guard lock(memory_mutex_);
    const auto it = device_.find(p);
    if (it == device_.end()) return;  // not ours: ignored, as the interface cannot report it
    b = it->second;
    device_.erase(it);
  }
  device_memory::process().unmap(b);
}

void* emulated_backend::do_register_host(void* p, std::size_t bytes, host_registration how) {
  UVM_EXPECTS(p != nullptr && bytes > 0, "register_host: null pointer or zero bytes ({}, {})", p,
              bytes);
  wait_for_kernels("register_host");  // page-locking may synchronise with the device
  const auto start = reinterpret_cast<std::uintptr_t>(p);
  const std::lock_guard lock(memory_mutex_);
  // Like cudaHostRegister, a range may not overlap one already registered.
  const auto next = host_.lower_bound(start);
  const bool overlaps_next = next != host_.end() && next->first - start < bytes;
  const bool overlaps_prev =
      next != host_.begin() && std::prev(next)->first + std::prev(next)->second > start;
  UVM_EXPECTS(!overlaps_next && !overlaps_prev,
              "register_host: [{}, +{}) overlaps a range already registered", p, bytes);
  if (how == host_registration::read_write && !writable_mapping(start, bytes)) {
    throw error(fmt::format(
        "register_host: [{}, +{}) is not writable; a read-only mapping must be registered "
        "read-only (cudaHostRegisterReadOnly), or CUDA refuses it",
        p, bytes));
  }
  host_.emplace(start, bytes);
  return p;  // host memory is directly addressable by the emulated device
}

void emulated_backend::do_unregister_host(void* p) noexcept {
  if (!wait_for_kernels_noexcept("unregister_host", p)) return;  // as cudaHostUnregister
  const std::lock_guard lock(memory_mutex_);
  host_.erase(reinterpret_cast<std::uintptr_t>(p));
}

std::size_t emulated_backend::do_default_budget(device_id d) {
  expect_device(d, "default_budget");
  return std::size_t{1} << 30;  // lazily committed host memory: 1 GiB costs only what is used
}

stream emulated_backend::do_create_stream(std::string_view name, device_id d) {
  expect_device(d, "create_stream");
  const std::lock_guard lock(streams_mutex_);
  // Reap the threads of streams whose handles are gone and whose work is done.
  std::erase_if(streams_, [](const std::shared_ptr<stream_core>& s) {
    if (!s->exited()) return false;
    s->join();
    return true;
  });
  std::shared_ptr<stream_core> core;
  try {
    core = std::make_shared<stream_core>(name, errors_);
  } catch (const std::system_error& e) {
    throw_system("creating the emulated stream thread", e.code().value());
  }
  streams_.push_back(core);
  return std::make_shared<emulated_stream>(std::move(core), d);
}

namespace {
const emulated_stream& emulated(const stream& s) {
  const auto* es = dynamic_cast<const emulated_stream*>(s.get());
  UVM_EXPECTS(es != nullptr, "not a stream of the emulated backend");
  return *es;
}
}  // namespace

stream_core& emulated_backend::core_of(const stream& s) {
  return emulated(s).core();
}

emulated_backend::device& emulated_backend::device_for(const stream& s) const {
  return *devices_[emulated(s).device()];
}

device_id emulated_backend::do_device_of(const stream& s) const {
  return emulated(s).device();
}

void emulated_backend::do_copy_async(void* dst, const void* src, std::size_t bytes, copy_kind kind,
                                     const stream& s) {
  UVM_EXPECTS(bytes == 0 || (dst != nullptr && src != nullptr),
              "copy_async: null pointer ({} <- {}, {} bytes)", dst, src, bytes);
  device& dev = device_for(s);
  copy_engine& engine = kind == copy_kind::host_to_device   ? dev.h2d
                        : kind == copy_kind::device_to_host ? dev.d2h
                                                            : dev.d2d;
  // Small reads of device words (the control words, a small page table) may race device
  // atomics, as a GPU's DMA may: they go word by word, each read and stored whole. Pages
  // (4 KiB and more) are never changed under a copy and go at memcpy speed.
  const bool words = kind == copy_kind::device_to_host && bytes < 4096 && bytes % 4 == 0 &&
                     reinterpret_cast<std::uintptr_t>(src) % 4 == 0 &&
                     reinterpret_cast<std::uintptr_t>(dst) % 4 == 0;
  // The stream thread blocks on the engine, so the stream's next operation waits for the copy.
  copy_on(engine, dst, src, bytes, words, core_of(s));
}

void emulated_backend::copy_on(copy_engine& engine, void* dst, const void* src, std::size_t bytes,
                               bool words, stream_core& core) {
  // A short copy on an idle stream, with its engine free, runs on the caller's thread: it has
  // landed when the call returns, as a fast engine's would, with no hand-off to the stream's
  // thread and back (which costs two context switches on a small machine). The caller never
  // waits for a busy engine: then the copy is queued as usual. (The runtime's copies read and
  // write only memory it owns, which never faults into a thread of its own.)
  bool landed = false;  // set only where run_if_idle ran the attempt
  if (short_copies_ == short_copies::run_when_idle && bytes < copy_engine::handoff_bytes) {
    (void)core.run_if_idle([&] { landed = engine.try_copy(dst, src, bytes, words); });
  }
  if (landed) return;
  core.enqueue([&engine, dst, src, bytes, words] { engine.copy(dst, src, bytes, words); });
}

void emulated_backend::do_copy_entries_async(std::uint32_t* dst, const std::uint32_t* src,
                                             std::size_t count, const stream& s) {
  UVM_EXPECTS(count == 0 || (dst != nullptr && src != nullptr),
              "copy_entries_async: null pointer ({} <- {}, {} words)", static_cast<void*>(dst),
              static_cast<const void*>(src), count);
  // On the host-to-device engine, each word stored whole (release): a kernel reading an entry
  // sees the old or the new one, and with the new one everything the stream did before it.
  copy_on(device_for(s).h2d, dst, src, count * 4, true, core_of(s));
}

void emulated_backend::do_launch(std::size_t n, kernel_body body, const stream& s) {
  UVM_EXPECTS(n == 0 || body, "launch: empty kernel body for {} indices", n);
  kernel_pool& kernels = device_for(s).kernels;
  core_of(s).enqueue(
      [&kernels, n, body = std::move(body)]() mutable { kernels.run(n, std::move(body)); });
}

event emulated_backend::do_record(const stream& s) {
  auto e = std::make_shared<emulated_event>();
  // On an idle stream every earlier operation has finished: the event is complete at once, as
  // what depends on it (an attachment, a cross-stream wait) may take effect at once.
  if (!core_of(s).enqueue_unless_idle([e] { e->done.complete(); })) e->done.complete();
  return e;
}

namespace {
struct emulated_gate final : gate_base {
  completion opened;
};
}  // namespace

gate emulated_backend::do_enqueue_gate(const stream& s) {
  auto g = std::make_shared<emulated_gate>();
  // The stream's thread waits, as a GPU stream waits on a memory value: no kernel worker is
  // held. Bounded like every wait; the runtime opens each gate it makes.
  core_of(s).enqueue([g] {
    if (!g->opened.wait_for(std::chrono::minutes(10))) {
      throw uvm::timeout("emulated stream: a host gate stayed closed for 10 minutes");
    }
  });
  return g;
}

void emulated_backend::do_open_gate(const gate& g) noexcept {
  if (auto* eg = dynamic_cast<emulated_gate*>(g.get())) eg->opened.complete();
}

bool emulated_backend::do_query(const event& e) noexcept {
  const auto* ee = dynamic_cast<const emulated_event*>(e.get());
  return ee != nullptr && ee->done.is_complete();
}

bool emulated_backend::do_wait(const event& e, std::chrono::nanoseconds timeout) noexcept {
  auto* ee = dynamic_cast<emulated_event*>(e.get());
  return ee != nullptr && ee->done.wait_for(timeout);
}

}  // namespace uvm::detail
