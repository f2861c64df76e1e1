#pragma once

// The emulated devices: device memory in host RAM, a copy engine per direction and device (host
// to device, device to host, device to device: each one copy at a time), events as futexes, and
// kernels run on each device's own CPU threads. It exists so that every protocol path is tested on
// machines without a GPU; it is not a mock, it runs real concurrency. Every device reaches every
// other (peer access, as over NVLink).
//
// It is as strict as a GPU where CUDA would hang, serialise or refuse: a kernel holds the
// workers it runs on until it returns; allocating or freeing device memory and registering or
// unregistering host memory wait until no kernel runs (CUDA may synchronise all four with the
// device, so a kernel waiting for their caller would never end); registering a read-only mapping
// fails unless it is registered read-only (as cudaHostRegister without cudaHostRegisterReadOnly
// does on x86/PCIe); and there is no legacy stream: every operation names one of the library's
// streams. The memory calls wait for the kernels of every device: CUDA may synchronise more
// than the device named.
//
// Streams and events must not be used after the backend is destroyed. The destructor finishes
// every operation already enqueued, then joins all of its threads.

#include "host/backend/backend.hpp"
#include "host/backend/emulated/copy_engine.hpp"
#include "host/backend/emulated/device_memory.hpp"
#include "host/backend/emulated/error_sink.hpp"
#include "host/backend/emulated/kernel_pool.hpp"

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

namespace uvm::detail {

class stream_core;

class emulated_backend final : public backend {
 public:
  /// Where a short copy issued on an idle stream runs while its engine is free: on the thread
  /// that issues it, landed when copy_async returns (as a fast engine's would, with no hand-off
  /// to the stream's thread and back, two context switches on a small machine), or queued for
  /// the stream's thread like every other operation (tests of the engines' order, whose sources
  /// stall on purpose).
  enum class short_copies : std::uint8_t { run_when_idle, queued };

  /// @param kernel_workers threads per device that run kernel chunks; 0 picks
  /// std::thread::hardware_concurrency(), at least 2.
  /// @param devices how many devices, 1 .. max_devices.
  /// @throws uvm::invalid_argument for another number of devices.
  explicit emulated_backend(unsigned kernel_workers = 0, device_id devices = 1,
                            short_copies copies = short_copies::run_when_idle);
  ~emulated_backend() override;
  emulated_backend(const emulated_backend&) = delete;
  emulated_backend& operator=(const emulated_backend&) = delete;

  [[nodiscard]] unsigned kernel_workers() const noexcept {
    return devices_.front()->kernels.workers();
  }
  static constexpr device_id max_devices = 16;

 private:
  // One device: its copy engines and its multiprocessors.
  struct device {
    device(device_id id, unsigned workers, error_sink& errors);
    copy_engine h2d;
    copy_engine d2h;
    copy_engine d2d;
    kernel_pool kernels;
  };

  std::string_view do_name() const noexcept override { return "emulated"; }
  bool do_device_clock_is_host() const noexcept override { return true; }
  device_id do_device_count() const noexcept override {
    return static_cast<device_id>(devices_.size());
  }
  // Every device reaches every other (backend::can_access_peer has checked both exist).
  bool do_can_access_peer(device_id, device_id) const noexcept override { return true; }
  void* do_allocate_device(std::size_t bytes, device_id d, device_fill fill) override;
  void do_free_device(void* p) noexcept override;
  void* do_register_host(void* p, std::size_t bytes, host_registration how) override;
  void do_unregister_host(void* p) noexcept override;
  stream do_create_stream(std::string_view name, device_id d) override;
  device_id do_device_of(const stream& s) const override;
  void do_copy_async(void* dst, const void* src, std::size_t bytes, copy_kind kind,
                     const stream& s) override;
  void do_copy_entries_async(std::uint32_t* dst, const std::uint32_t* src, std::size_t count,
                             const stream& s) override;
  void do_launch(std::size_t n, kernel_body body, const stream& s) override;
  event do_record(const stream& s) override;
  gate do_enqueue_gate(const stream& s) override;
  void do_open_gate(const gate& g) noexcept override;
  // Frames are lazily committed host memory: 1 GiB costs only what is used.
  std::size_t do_default_budget(device_id d) override;
  std::string do_take_error() override { return errors_.take(); }
  bool do_query(const event& e) noexcept override;
  bool do_wait(const event& e, std::chrono::nanoseconds timeout) noexcept override;

  /// @throws uvm::invalid_argument naming `call` unless `d` is one of the devices.
  void expect_device(device_id d, const char* call) const;
  /// Waits until no kernel runs on any device. @return false if some still ran at `bound`.
  bool kernels_idle_within(std::chrono::nanoseconds bound) noexcept;
  /// Waits until no kernel runs on any device, as CUDA orders allocations, frees, registrations and
  /// unregistrations after the kernels in flight. Bounded: past it, a timeout names `call`.
  void wait_for_kernels(const char* call);
  /// The same for the calls that cannot throw: past the bound it reports and returns false.
  bool wait_for_kernels_noexcept(const char* call, const void* p) noexcept;

  /// @throws uvm::invalid_argument if `s` is null or not a stream of an emulated backend.
  static stream_core& core_of(const stream& s);
  // Issues a copy on `core`'s stream, on the caller's thread where it can (short_copies).
  void copy_on(copy_engine& engine, void* dst, const void* src, std::size_t bytes, bool words,
               stream_core& core);
  short_copies short_copies_;
  /// What runs the work of `s`. @throws as core_of.
  device& device_for(const stream& s) const;

  error_sink errors_;  // first: the threads below report into it until they are joined
  std::vector<std::unique_ptr<device>> devices_;

  std::mutex memory_mutex_;
  std::unordered_map<void*, device_memory::block> device_;  // by address
  std::map<std::uintptr_t, std::size_t> host_;  // registered start -> bytes, ordered for overlap

  std::mutex streams_mutex_;
  std::vector<std::shared_ptr<stream_core>> streams_;  // joined by the destructor
};

}  // namespace uvm::detail
