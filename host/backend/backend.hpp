#pragma once

// The device as the runtime sees it: memory, streams, copies, events and kernel launches.
// Non-virtual interface: the public calls count bytes and mark NVTX ranges once for every
// implementation (cuda, emulated). Stream semantics follow CUDA's: operations on one stream run
// in order; different streams may overlap; an event completes when every operation enqueued on
// its stream before it has completed. Every stream is the library's own, non-blocking: nothing
// runs on a legacy default stream that would synchronise with the application's streams.
//
// Nothing here needs an SM except launch: a faulting kernel may hold every SM while its warps
// wait for the runtime, and running blocks are never pre-empted, so everything the runtime
// issues while kernels may run is a copy-engine or host operation.

#include "host/telemetry/nvtx.hpp"

#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>

namespace uvm::detail {

/// A copy's direction. device_to_device copies between two devices' memory (or within one), on
/// the copy engine of the stream's device: a peer copy where the devices reach each other.
enum class copy_kind : std::uint8_t { host_to_device, device_to_host, device_to_device };

/// A device of the backend: 0 .. device_count() - 1.
using device_id = std::uint32_t;

/// How host memory is registered for the device. A read-only mapping (the zero-page source)
/// must be registered read-only (cudaHostRegisterReadOnly): without it CUDA refuses such memory
/// on x86/PCIe systems, and so does the emulated device.
enum class host_registration : std::uint8_t { read_write, read_only };

/// What newly allocated device memory holds: zeros, or whatever it held (the caller writes
/// every byte before it reads it).
enum class device_fill : std::uint8_t { zeros, any };

class stream_base {
 public:
  virtual ~stream_base() = default;
};
class event_base {
 public:
  virtual ~event_base() = default;
};
class gate_base {
 public:
  virtual ~gate_base() = default;
};
using stream = std::shared_ptr<stream_base>;
using event = std::shared_ptr<event_base>;
using gate = std::shared_ptr<gate_base>;

/// Every device call that names a device outside 0 .. device_count() - 1 throws
/// uvm::invalid_argument.
///
/// A kernel body for the emulated device: runs indices [begin, end) of the grid. The CUDA
/// backend launches real kernels from uvm/launch.hpp instead, not through this.
using kernel_body = std::function<void(std::size_t begin, std::size_t end)>;

class backend {
 public:
  virtual ~backend() = default;

  /// @return "cuda" or "emulated".
  [[nodiscard]] std::string_view name() const noexcept { return do_name(); }

  /// Whether device code's clock (device_clock_ns) is the host's now_ns, so that a time the
  /// device wrote can be compared with the host's (the emulated device; not a GPU's globaltimer).
  [[nodiscard]] bool device_clock_is_host() const noexcept { return do_device_clock_is_host(); }

  /// How many devices the backend drives (at least 1).
  [[nodiscard]] device_id device_count() const noexcept { return do_device_count(); }
  /// The number the device API gives device `d` (its CUDA ordinal; `d` on the emulated
  /// device), which device code reads as current_device(): below max_native_devices.
  [[nodiscard]] std::uint32_t native_device(device_id d) const noexcept {
    return do_native_device(d);
  }
  /// Whether device code on `from` reaches the memory of device `to` directly (peer access;
  /// always for from == to). Where it does not, a copy between them goes through host memory.
  /// False if either is not a device of the backend.
  [[nodiscard]] bool can_access_peer(device_id from, device_id to) const noexcept {
    if (from >= device_count() || to >= device_count()) return false;
    return from == to || do_can_access_peer(from, to);
  }

  /// Device memory on device `d` (frames, the device page table). With device_fill::zeros it is
  /// zero-filled before it is returned (without touching a legacy stream); with
  /// device_fill::any its contents are unknown (frames: every page's data arrives by copy).
  /// @throws uvm::out_of_memory
  [[nodiscard]] void* allocate_device(std::size_t bytes, device_id d = 0,
                                      device_fill fill = device_fill::zeros) {
    UVM_NVTX_FUNC_RANGE();
    return do_allocate_device(bytes, d, fill);
  }
  /// Frees device memory. As cudaFree does in practice, it waits until no kernel runs: never call
  /// it while holding a lock that a faulting kernel's service needs.
  void free_device(void* p) noexcept { do_free_device(p); }

  /// Makes host memory directly accessible to device code (pinned and mapped on CUDA). May
  /// synchronise with the device, like free_device: not under a lock the fault service needs.
  /// @return the address device code uses for `p` (the same pointer on the emulated device).
  /// @throws uvm::error subclasses on failure, among them a read-only mapping registered
  /// read_write.
  [[nodiscard]] void* register_host(void* p, std::size_t bytes, host_registration how) {
    UVM_NVTX_FUNC_RANGE();
    return do_register_host(p, bytes, how);
  }
  void unregister_host(void* p) noexcept { do_unregister_host(p); }

  /// A new stream on device `d` that does not synchronise with the default stream. Its copies
  /// run on `d`'s copy engines and its kernels on `d`.
  [[nodiscard]] stream create_stream(std::string_view name, device_id d = 0) {
    return do_create_stream(name, d);
  }
  /// The device `s` belongs to.
  [[nodiscard]] device_id device_of(const stream& s) const { return do_device_of(s); }

  /// Enqueues a copy of `bytes` from `src` to `dst`. Both stay valid until the copy completes.
  void copy_async(void* dst, const void* src, std::size_t bytes, copy_kind kind, const stream& s) {
    do_copy_async(dst, src, bytes, kind, s);  // counted once accepted
    bytes_[static_cast<std::size_t>(kind)].fetch_add(bytes, std::memory_order_relaxed);
  }

  /// Enqueues a copy of `count` 32-bit words from registered host memory to device memory that
  /// device code may be reading meanwhile (page-table entries): each word lands whole, ordered
  /// after everything enqueued on `s` before it. A copy-engine operation, like copy_async.
  void copy_entries_async(std::uint32_t* dst, const std::uint32_t* src, std::size_t count,
                          const stream& s) {
    do_copy_entries_async(dst, src, count, s);
  }

  /// Enqueues `body` over a grid of `n` indices (emulated device only).
  void launch(std::size_t n, kernel_body body, const stream& s) {
    do_launch(n, std::move(body), s);
  }

  /// The stream as the device API knows it (a cudaStream_t on the cuda backend), for kernels
  /// that the application launches itself; nullptr on the emulated device.
  [[nodiscard]] void* native_handle(const stream& s) { return do_native_handle(s); }

  /// The memory of device `d` a manager may use for frames when the configuration sets no
  /// budget.
  [[nodiscard]] std::size_t default_budget(device_id d = 0) { return do_default_budget(d); }

  /// Enqueues on `s` a barrier that the host opens: work enqueued on `s` after it runs once
  /// open_gate() was called. How a stream waits for a host thread that does stream-ordered work
  /// (a queued prefetch): with a stream memory wait on CUDA, which needs no SM. The caller must
  /// open every gate it makes, also on failure.
  /// @return null where the backend has no gate that needs neither an SM nor a blocking host
  /// function (a CUDA driver without stream memory operations): the caller then runs the
  /// operation before it returns, once the stream's earlier work has finished.
  [[nodiscard]] gate enqueue_gate(const stream& s) { return do_enqueue_gate(s); }
  void open_gate(const gate& g) noexcept { do_open_gate(g); }

  /// Records an event on `s`.
  [[nodiscard]] event record(const stream& s) { return do_record(s); }
  /// @return true if the event has completed.
  [[nodiscard]] bool query(const event& e) noexcept { return do_query(e); }
  /// Waits for the event, at most `timeout`.
  /// @return false if it had not completed by then.
  [[nodiscard]] bool wait(const event& e, std::chrono::nanoseconds timeout) noexcept {
    return do_wait(e, timeout);
  }

  /// The first asynchronous failure since the last call (a kernel that failed), or "" if none;
  /// the call clears it, like cudaGetLastError for sticky launch errors.
  [[nodiscard]] std::string take_error() { return do_take_error(); }

  [[nodiscard]] std::uint64_t bytes_host_to_device() const noexcept {
    return bytes_[0].load(std::memory_order_relaxed);
  }
  [[nodiscard]] std::uint64_t bytes_device_to_host() const noexcept {
    return bytes_[1].load(std::memory_order_relaxed);
  }
  [[nodiscard]] std::uint64_t bytes_device_to_device() const noexcept {
    return bytes_[2].load(std::memory_order_relaxed);
  }

 private:
  virtual std::string_view do_name() const noexcept = 0;
  virtual bool do_device_clock_is_host() const noexcept { return false; }
  virtual device_id do_device_count() const noexcept { return 1; }
  virtual bool do_can_access_peer(device_id, device_id) const noexcept { return false; }
  virtual std::uint32_t do_native_device(device_id d) const noexcept { return d; }
  virtual void* do_allocate_device(std::size_t bytes, device_id d, device_fill fill) = 0;
  virtual void do_free_device(void* p) noexcept = 0;
  virtual void* do_register_host(void* p, std::size_t bytes, host_registration how) = 0;
  virtual void do_unregister_host(void* p) noexcept = 0;
  virtual stream do_create_stream(std::string_view name, device_id d) = 0;
  virtual device_id do_device_of(const stream& s) const = 0;
  virtual void do_copy_async(void* dst, const void* src, std::size_t bytes, copy_kind kind,
                             const stream& s) = 0;
  virtual void do_copy_entries_async(std::uint32_t* dst, const std::uint32_t* src,
                                     std::size_t count, const stream& s) = 0;
  virtual void do_launch(std::size_t n, kernel_body body, const stream& s) = 0;
  virtual void* do_native_handle(const stream&) { return nullptr; }
  virtual std::size_t do_default_budget(device_id d) = 0;
  virtual event do_record(const stream& s) = 0;
  virtual gate do_enqueue_gate(const stream& s) = 0;
  virtual void do_open_gate(const gate& g) noexcept = 0;
  virtual std::string do_take_error() = 0;
  virtual bool do_query(const event& e) noexcept = 0;
  virtual bool do_wait(const event& e, std::chrono::nanoseconds timeout) noexcept = 0;

  // Bytes accepted, by copy_kind.
  std::array<std::atomic<std::uint64_t>, 3> bytes_{};
};

}  // namespace uvm::detail
