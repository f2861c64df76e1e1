#include "host/backend/cuda/cuda_backend.hpp"

#include "host/backend/cuda/cuda_check.hpp"
#include "kernels/write_word.hpp"
#include "host/common/check.hpp"
#include "host/telemetry/nvtx.hpp"

#include <chrono>
#include <string>
#include <thread>

#if UVM_HAS_NVTX
#include <nvtx3/nvToolsExtCudaRt.h>
#endif

namespace uvm::detail {

namespace {

struct cuda_stream final : stream_base {
  cudaStream_t s = nullptr;
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

cudaStream_t native(const stream& s) {
  const auto* c = dynamic_cast<const cuda_stream*>(s.get());
  UVM_EXPECTS(c != nullptr, "cuda backend: not a stream of the cuda backend");
  return c->s;
}

}  // namespace

cuda_backend::cuda_backend(int device) : device_(device) {
  UVM_CUDA_TRY(cudaSetDevice(device));
}

void* cuda_backend::do_allocate_device(std::size_t bytes) {
  void* p = nullptr;
  const cudaError_t e = cudaMalloc(&p, bytes);
  if (e == cudaErrorMemoryAllocation) {
    cudaGetLastError();
    throw out_of_memory(fmt::format("cudaMalloc of {} bytes: out of device memory", bytes));
  }
  if (e != cudaSuccess) throw_cuda(e, "cudaMalloc", __FILE__, __LINE__);
  UVM_CUDA_TRY(cudaMemset(p, 0, bytes));  // the interface promises zeroed memory
  return p;
}

void cuda_backend::do_free_device(void* p) noexcept {
  if (p != nullptr) cudaFree(p);
}

void* cuda_backend::do_register_host(void* p, std::size_t bytes) {
  UVM_CUDA_TRY(cudaHostRegister(p, bytes, cudaHostRegisterMapped | cudaHostRegisterPortable));
  void* device_address = nullptr;
  UVM_CUDA_TRY(cudaHostGetDevicePointer(&device_address, p, 0));
  return device_address;
}

void cuda_backend::do_unregister_host(void* p) noexcept {
  if (cudaHostUnregister(p) != cudaSuccess) cudaGetLastError();
}

stream cuda_backend::do_create_stream(std::string_view name) {
  auto s = std::make_shared<cuda_stream>();
  UVM_CUDA_TRY(cudaStreamCreateWithFlags(&s->s, cudaStreamNonBlocking));
  name_stream(s->s, "uvm-" + std::string(name));
  return s;
}

void* cuda_backend::do_native_handle(const stream& s) {
  return native(s);
}

std::size_t cuda_backend::do_default_budget() {
  // Three quarters of what is free now, leaving room for the application's own allocations,
  // CUDA's context and the page tables.
  std::size_t free = 0, total = 0;
  UVM_CUDA_TRY(cudaMemGetInfo(&free, &total));
  return free / 4 * 3;
}

void cuda_backend::do_copy_async(void* dst, const void* src, std::size_t bytes, copy_kind,
                                 const stream& s) {
  UVM_CUDA_TRY(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDefault, native(s)));
}

void cuda_backend::do_write_word_async(std::uint32_t* dst, std::uint32_t value, const stream& s) {
  UVM_CUDA_TRY(enqueue_write_word(dst, value, native(s)));
}

void cuda_backend::do_launch(std::size_t, kernel_body, const stream&) {
  throw error(
      "uvm: parallel_for runs host functors, which only the emulated device can run; on the "
      "cuda backend launch kernels with uvm::launch (<uvm/launch.hpp>) or on a "
      "manager::begin_launch scope's native_stream()");
}

std::uint32_t cuda_backend::do_read_word(const std::uint32_t* src) {
  std::uint32_t v = 0;
  UVM_CUDA_TRY(cudaMemcpy(&v, src, sizeof v, cudaMemcpyDeviceToHost));
  return v;
}

event cuda_backend::do_record(const stream& s) {
  auto e = std::make_shared<cuda_event>();
  UVM_CUDA_TRY(cudaEventCreateWithFlags(&e->e, cudaEventDisableTiming));
  UVM_CUDA_TRY(cudaEventRecord(e->e, native(s)));
  return e;
}

bool cuda_backend::do_query(const event& e) noexcept {
  const auto* c = dynamic_cast<const cuda_event*>(e.get());
  if (c == nullptr) return false;
  const cudaError_t r = cudaEventQuery(c->e);
  if (r == cudaErrorNotReady) return false;
  if (r != cudaSuccess) cudaGetLastError();  // a failed stream: report through take_error
  return r == cudaSuccess;
}

bool cuda_backend::do_wait(const event& e, std::chrono::nanoseconds timeout) noexcept {
  // cudaEventSynchronize has no timeout: poll, backing off up to 100 us.
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  auto pause = std::chrono::microseconds(1);
  while (!do_query(e)) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(pause);
    pause = std::min(pause * 2, std::chrono::microseconds(100));
  }
  return true;
}

std::string cuda_backend::do_take_error() {
  const cudaError_t e = cudaGetLastError();
  if (e == cudaSuccess) return {};
  return fmt::format("{}: {}", cudaGetErrorName(e), cudaGetErrorString(e));
}

}  // namespace uvm::detail
