#pragma once

// The backend on real NVIDIA GPUs, one or several: frames and page tables from cudaMalloc on
// each, host memory pinned and mapped with cudaHostRegister for all of them (the runtime view,
// so DMA reads and writes the application's pages with no staging copy), non-blocking streams
// that belong to a GPU, events. Kernels are launched by device code (uvm/launch.hpp, or the
// application on a launch_scope), not through launch().
//
// Several GPUs: every call that needs a current device makes the GPU it works on current for
// the call and restores the application's after (the library's calls run on its threads). Peer
// access is enabled between every pair that cudaDeviceCanAccessPeer allows, so a GPU maps a
// peer's frames and copies between them are peer copies (cudaMemcpyAsync with UVA; the driver
// stages the others through host memory). Device code learns which GPU it runs on from each
// module's module_native_device (uvm/detail/current_device.hpp), written here for every GPU.
//
// Copy streams and the threads that drive them are named for Nsight Systems. Nothing runs on the
// legacy default stream (it would synchronise with the application's blocking streams), and
// nothing the runtime issues needs an SM: page-table entries are published by cudaMemcpyAsync.

#include "host/backend/backend.hpp"
#include "host/backend/device_probe.hpp"

#include <atomic>
#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

namespace uvm::detail {

class cuda_backend final : public backend {
 public:
  /// Drives the GPUs `ordinals` (CUDA ordinals; the backend's device i is ordinals[i]); empty:
  /// every visible GPU, the first max_devices.
  /// @throws uvm::invalid_argument for a GPU that is not there; uvm::cuda_error if one cannot
  /// be used, or several cannot share registered host memory at the host's address.
  explicit cuda_backend(const std::vector<int>& ordinals = {});
  ~cuda_backend() override;

  /// What device `d` offers, queried once at start.
  [[nodiscard]] const device_capabilities& capabilities(device_id d = 0) const {
    return gpus_.at(d).caps;
  }
  /// The paths taken for what the devices lack (a capability only where all of them have it).
  [[nodiscard]] const backend_paths& paths() const noexcept { return paths_; }

 private:
  struct cuda_gate;
  void do_open_gate_slot(cuda_gate& g) noexcept;
  std::string_view do_name() const noexcept override { return "cuda"; }
  device_id do_device_count() const noexcept override {
    return static_cast<device_id>(gpus_.size());
  }
  bool do_can_access_peer(device_id from, device_id to) const noexcept override {
    return (peers_ >> (from * max_devices + to) & 1u) != 0;
  }
  std::uint32_t do_native_device(device_id d) const noexcept override {
    return static_cast<std::uint32_t>(gpus_[d].ordinal);
  }
  // Enables peer access between every pair of GPUs that allows it.
  void enable_peers();
  void* do_allocate_device(std::size_t bytes, device_id d, device_fill fill) override;
  void do_free_device(void* p) noexcept override;
  void* do_register_host(void* p, std::size_t bytes, host_registration how) override;
  void do_unregister_host(void* p) noexcept override;
  stream do_create_stream(std::string_view name, device_id d) override;
  device_id do_device_of(const stream& s) const override;
  // The GPU of device `d`. @throws uvm::invalid_argument for a device the backend lacks.
  [[nodiscard]] int ordinal(device_id d, const char* call) const;
  void do_copy_async(void* dst, const void* src, std::size_t bytes, copy_kind kind,
                     const stream& s) override;
  void do_copy_entries_async(std::uint32_t* dst, const std::uint32_t* src, std::size_t count,
                             const stream& s) override;
  void do_launch(std::size_t n, kernel_body body, const stream& s) override;
  void* do_native_handle(const stream& s) override;
  std::size_t do_default_budget(device_id d) override;
  event do_record(const stream& s) override;
  gate do_enqueue_gate(const stream& s) override;
  void do_open_gate(const gate& g) noexcept override;
  bool do_query(const event& e) noexcept override;
  bool do_wait(const event& e, std::chrono::nanoseconds timeout) noexcept override;
  std::string do_take_error() override;

  struct gate_stream {
    void* s = nullptr;  // cudaStream_t
    void* e = nullptr;  // cudaEvent_t, recorded after the wait
    device_id device = 0;
  };
  struct gpu {
    int ordinal = 0;
    device_capabilities caps;
    void* zeroing = nullptr;  // cudaStream_t: zero-fills new device memory (non-blocking)
    std::vector<gate_stream> free_gate_streams;  // under gates_mutex_
  };
  std::vector<gpu> gpus_;
  std::uint64_t peers_ = 0;  // bit from * max_devices + to: peer access from `from` to `to`
  backend_paths paths_;
  // Gates: 32-bit words in one registered host page that gate streams wait on with
  // cuStreamWaitValue32 (from the driver's entry point: no link to libcuda); the guarded stream
  // waits for the gate stream's event. Where the driver lacks stream memory operations there
  // are no gates. A word only grows: a slot is reused with a larger value once its gate was
  // opened. A gate stream holds one gate at a time; more are created as gates overlap. Each GPU
  // has its own (a stream waits for an event on its own GPU's gate stream).
  std::mutex gates_mutex_;
  std::uint32_t* gate_words_ = nullptr;
  void* gate_words_device_ = nullptr;
  std::vector<std::uint32_t> free_slots_;
  std::vector<std::uint32_t> slot_values_;     // the value of each slot's latest gate
  std::vector<gate_stream> all_gate_streams_;  // destroyed with the backend
  std::atomic<void*> wait_value_{nullptr};     // the driver's cuStreamWaitValue32, or null
  std::mutex error_mutex_;
  std::string error_;  // the first failed event's error, reported once by take_error
};

}  // namespace uvm::detail
