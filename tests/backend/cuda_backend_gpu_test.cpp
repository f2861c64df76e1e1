// The CUDA backend against a real GPU (ctest label `gpu`); skips with the reason without one.
#include "host/backend/cuda/cuda_backend.hpp"
#include "host/backend/device_probe.hpp"

#include <uvm/error.hpp>

#include <gtest/gtest.h>

#include <cuda_runtime_api.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <vector>

#include <sys/mman.h>

namespace uvm::detail {
namespace {

using namespace std::chrono_literals;

#define REQUIRE_GPU()                                                          \
  do {                                                                         \
    const device_probe p = probe_cuda_devices();                               \
    if (p.devices == 0) GTEST_SKIP() << "no usable CUDA device: " << p.reason; \
  } while (false)

TEST(CudaBackendGpu, CopiesBothWaysAndWordsInStreamOrder) {
  REQUIRE_GPU();
  cuda_backend b;
  constexpr std::size_t bytes = 8 << 20;
  auto* dev = static_cast<std::byte*>(b.allocate_device(bytes));
  auto* words = static_cast<std::uint32_t*>(b.allocate_device(64));
  std::uint32_t word = 1;
  const stream s = b.create_stream("test");
  b.copy_async(&word, words, 4, copy_kind::device_to_host, s);
  ASSERT_TRUE(b.wait(b.record(s), 10s));
  EXPECT_EQ(word, 0u) << "device memory comes zeroed";
  // The data, then one page of its own for the staged word: a copy from pinned memory reads its
  // source when it runs, so the word must not share bytes with the queued 8 MiB copy.
  constexpr std::size_t mapped = bytes + 4096;
  void* host = mmap(nullptr, mapped, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  ASSERT_NE(host, MAP_FAILED);
  auto* h = static_cast<std::uint8_t*>(host);
  for (std::size_t i = 0; i < bytes; ++i) h[i] = static_cast<std::uint8_t>(i * 7);
  EXPECT_NE(b.register_host(host, mapped, host_registration::read_write), nullptr);
  b.copy_async(dev, host, bytes, copy_kind::host_to_device, s);
  auto* staged = reinterpret_cast<std::uint32_t*>(h + bytes);  // registered, outside the copy
  *staged = 42;
  b.copy_entries_async(words, staged, 1, s);  // after the data, by the copy engine
  ASSERT_TRUE(b.wait(b.record(s), 10s));
  b.copy_async(&word, words, 4, copy_kind::device_to_host, s);
  ASSERT_TRUE(b.wait(b.record(s), 10s));
  EXPECT_EQ(word, 42u);
  std::vector<std::uint8_t> expect(h, h + bytes);
  std::memset(host, 0, bytes);
  b.copy_async(host, dev, bytes, copy_kind::device_to_host, s);
  const event done = b.record(s);
  ASSERT_TRUE(b.wait(done, 10s));
  EXPECT_TRUE(b.query(done));
  EXPECT_EQ(std::memcmp(host, expect.data(), bytes), 0);
  EXPECT_EQ(b.bytes_host_to_device(), bytes);
  EXPECT_EQ(b.bytes_device_to_host(), bytes + 8);
  EXPECT_EQ(b.take_error(), "");
  EXPECT_THROW(b.launch(
                   1, [](std::size_t, std::size_t) {}, s),
               uvm::error);
  b.unregister_host(host);
  munmap(host, mapped);
  b.free_device(dev);
  b.free_device(words);
}

TEST(CudaBackendGpu, AHostGateHoldsTheStreamsLaterWorkUntilOpened) {
  REQUIRE_GPU();
  cuda_backend b;
  const stream s = b.create_stream("gated");
  const stream other = b.create_stream("other");
  auto* words = static_cast<std::uint32_t*>(b.allocate_device(64));
  void* host = mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  ASSERT_NE(host, MAP_FAILED);
  auto* h = static_cast<std::uint32_t*>(host);
  h[0] = 9;
  (void)b.register_host(host, 4096, host_registration::read_write);
  const gate g = b.enqueue_gate(s);
  b.copy_entries_async(words, h, 1, s);
  const event after = b.record(s);
  EXPECT_FALSE(b.wait(after, 50ms)) << "work behind a closed gate ran";
  EXPECT_TRUE(b.wait(b.record(other), 10s)) << "another stream is not held";
  b.open_gate(g);
  ASSERT_TRUE(b.wait(after, 10s));
  b.copy_async(h + 1, words, 4, copy_kind::device_to_host, s);
  ASSERT_TRUE(b.wait(b.record(s), 10s));
  EXPECT_EQ(h[1], 9u);
  // Many gates in turn: slots are reused with growing values.
  for (int i = 0; i < 2000; ++i) b.open_gate(b.enqueue_gate(s));
  EXPECT_TRUE(b.wait(b.record(s), 10s));
  EXPECT_EQ(b.take_error(), "");
  b.unregister_host(host);
  munmap(host, 4096);
  b.free_device(words);
}

TEST(CudaBackendGpu, AbsurdAllocationIsOutOfMemory) {
  REQUIRE_GPU();
  cuda_backend b;
  EXPECT_THROW((void)b.allocate_device(std::size_t{1} << 50), uvm::out_of_memory);
}

// The backend drives every visible GPU (the first 8): each device's memory and streams are on its
// own GPU, a GPU that is not there is refused by name, and with two GPUs a device-to-device copy
// lands (a peer copy where they reach each other), with the caller's current GPU left as it was.
TEST(CudaBackendGpu, EveryVisibleGpuIsDrivenAndEachDevicesWorkIsOnItsOwn) {
  REQUIRE_GPU();
  int visible = 0;
  ASSERT_EQ(cudaGetDeviceCount(&visible), cudaSuccess);
  EXPECT_THROW(cuda_backend({visible}), uvm::invalid_argument) << "GPU " << visible;
  cuda_backend b;
  ASSERT_EQ(b.device_count(), static_cast<device_id>(std::min(visible, 8)));
  int before = -1;
  ASSERT_EQ(cudaGetDevice(&before), cudaSuccess);
  std::vector<void*> memory;
  std::vector<stream> streams;
  for (device_id d = 0; d < b.device_count(); ++d) {
    EXPECT_EQ(b.native_device(d), d);
    memory.push_back(b.allocate_device(4096, d));
    cudaPointerAttributes a{};
    ASSERT_EQ(cudaPointerGetAttributes(&a, memory.back()), cudaSuccess);
    EXPECT_EQ(a.device, static_cast<int>(d)) << "device " << d << "'s memory is elsewhere";
    streams.push_back(b.create_stream("gpu", d));
    EXPECT_EQ(b.device_of(streams.back()), d);
  }
  int after = -1;
  ASSERT_EQ(cudaGetDevice(&after), cudaSuccess);
  EXPECT_EQ(after, before) << "the backend left another GPU current";
  if (b.device_count() >= 2) {
    std::uint32_t seed[1024];
    for (std::uint32_t i = 0; i < 1024; ++i) seed[i] = i * 2654435761u;
    b.copy_async(memory[0], seed, sizeof seed, copy_kind::host_to_device, streams[0]);
    ASSERT_TRUE(b.wait(b.record(streams[0]), 10s));
    b.copy_async(memory[1], memory[0], sizeof seed, copy_kind::device_to_device, streams[1]);
    std::uint32_t back[1024] = {};
    b.copy_async(back, memory[1], sizeof back, copy_kind::device_to_host, streams[1]);
    ASSERT_TRUE(b.wait(b.record(streams[1]), 10s));
    EXPECT_EQ(std::memcmp(back, seed, sizeof back), 0);
    int can = 0;
    ASSERT_EQ(cudaDeviceCanAccessPeer(&can, 1, 0), cudaSuccess);
    EXPECT_EQ(b.can_access_peer(1, 0), can != 0);
  }
  EXPECT_EQ(b.take_error(), "");
  for (void* p : memory) b.free_device(p);
}

}  // namespace
}  // namespace uvm::detail
