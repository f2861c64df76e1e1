#pragma once

// The backend on a real NVIDIA GPU: frames and page tables from cudaMalloc, host memory pinned
// and mapped with cudaHostRegister (the runtime view, so DMA reads and writes the application's
// pages with no staging copy), non-blocking streams, events. Kernels are launched by device
// code (uvm/launch.hpp, or the application on a launch_scope), not through launch().
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
  /// @throws uvm::cuda_error if `device` cannot be used.
  explicit cuda_backend(int device = 0);
  ~cuda_backend() override;

  /// What the device offers, queried once at start, and the paths taken for what it lacks.
  [[nodiscard]] const device_capabilities& capabilities() const noexcept { return capabilities_; }
  [[nodiscard]] const backend_paths& paths() const noexcept { return paths_; }

 private:
  struct cuda_gate;
  void do_open_gate_slot(cuda_gate& g) noexcept;
  std::string_view do_name() const noexcept override { return "cuda"; }
  void* do_allocate_device(std::size_t bytes, device_id d) override;
  void do_free_device(void* p) noexcept override;
  void* do_register_host(void* p, std::size_t bytes, host_registration how) override;
  void do_unregister_host(void* p) noexcept override;
  stream do_create_stream(std::string_view name, device_id d) override;
  device_id do_device_of(const stream& s) const override;
  // The backend drives one GPU, its device 0. @throws uvm::invalid_argument for another.
  static void expect_device(device_id d, const char* call);
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

  int device_;
  device_capabilities capabilities_;
  backend_paths paths_;
  // Gates: 32-bit words in one registered host page that gate streams wait on with
  // cuStreamWaitValue32 (from the driver's entry point: no link to libcuda); the guarded stream
  // waits for the gate stream's event. Where the driver lacks stream memory operations there
  // are no gates. A word only grows: a slot is reused with a larger value once its gate was
  // opened. A gate stream holds one gate at a time; more are created as gates overlap.
  struct gate_stream {
    void* s = nullptr;  // cudaStream_t
    void* e = nullptr;  // cudaEvent_t, recorded after the wait
  };
  std::mutex gates_mutex_;
  std::uint32_t* gate_words_ = nullptr;
  void* gate_words_device_ = nullptr;
  std::vector<std::uint32_t> free_slots_;
  std::vector<std::uint32_t> slot_values_;  // the value of each slot's latest gate
  std::vector<gate_stream> free_gate_streams_;
  std::vector<gate_stream> all_gate_streams_;  // destroyed with the backend
  std::atomic<void*> wait_value_{nullptr};     // the driver's cuStreamWaitValue32, or null
  void* zeroing_ = nullptr;  // cudaStream_t: zero-fills new device memory (non-blocking)
  std::mutex error_mutex_;
  std::string error_;  // the first failed event's error, reported once by take_error
};

}  // namespace uvm::detail
