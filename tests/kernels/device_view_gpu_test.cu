// The device accessor on a real GPU: the fast path over resident pages, the fault path served by
// a host thread through the mailbox (as the fault service thread does), and the bounded wait that
// ends in a device error. Needs a CUDA device (ctest label `gpu`); skips with the reason without.
#include <uvm/device_view.hpp>

#include <cuda_runtime.h>
#include <gtest/gtest.h>

#include <atomic>
#include <cstring>
#include <thread>
#include <vector>

namespace {

using namespace uvm::detail;

constexpr std::uint32_t page_shift = 16;
constexpr std::size_t page_bytes = std::size_t{1} << page_shift;
constexpr std::size_t pages = 4;
constexpr std::size_t n = pages * page_bytes / sizeof(int);

#define CHECK_CUDA(call) \
  ASSERT_EQ((call), cudaSuccess) << #call << ": " << cudaGetErrorString(cudaGetLastError())

__global__ void sum_kernel(uvm::const_device_view<int> v, unsigned long long* out) {
  const std::size_t i = blockIdx.x * static_cast<std::size_t>(blockDim.x) + threadIdx.x;
  if (i < v.size()) atomicAdd(out, static_cast<unsigned long long>(v.load(i)));
}

struct gpu_range {
  device_range r{};
  std::vector<int> host = std::vector<int>(n);
  unsigned long long* sum = nullptr;

  void init(std::uint64_t timeout_ns) {
    for (std::size_t i = 0; i < n; ++i) host[i] = static_cast<int>(i % 1000);
    ASSERT_EQ(cudaMalloc(&r.slots[0].frames, pages * page_bytes), cudaSuccess);
    ASSERT_EQ(cudaMalloc(&r.slots[0].ptes, pages * sizeof(device_pte)), cudaSuccess);
    ASSERT_EQ(cudaMemset(r.slots[0].ptes, 0, pages * sizeof(device_pte)), cudaSuccess);
    ASSERT_EQ(cudaHostAlloc(&r.slots[0].mailbox, sizeof(fault_mailbox), cudaHostAllocMapped),
              cudaSuccess);
    std::memset(static_cast<void*>(r.slots[0].mailbox), 0, sizeof(fault_mailbox));
    ASSERT_EQ(cudaMalloc(&r.slots[0].control, sizeof(mailbox_control)), cudaSuccess);
    ASSERT_EQ(cudaMemset(r.slots[0].control, 0, sizeof(mailbox_control)), cudaSuccess);
    ASSERT_EQ(cudaMalloc(&sum, sizeof(*sum)), cudaSuccess);
    ASSERT_EQ(cudaMemset(sum, 0, sizeof(*sum)), cudaSuccess);
    r.bytes = pages * page_bytes;
    r.page_shift = page_shift;
    r.timeout_ns = timeout_ns;
  }
  void make_resident(std::uint32_t page, cudaStream_t s) {
    ASSERT_EQ(cudaMemcpyAsync(r.slots[0].frames + page * page_bytes,
                              host.data() + page * (page_bytes / 4), page_bytes,
                              cudaMemcpyHostToDevice, s),
              cudaSuccess);
    static device_pte entries[pages];
    entries[page] = make_pte(page, pte_valid | pte_writable);
    ASSERT_EQ(cudaMemcpyAsync(&r.slots[0].ptes[page], &entries[page], sizeof(device_pte),
                              cudaMemcpyHostToDevice, s),
              cudaSuccess);
    ASSERT_EQ(cudaStreamSynchronize(s), cudaSuccess);
  }
  mailbox_control control() const {
    mailbox_control c{};
    cudaMemcpy(&c, r.slots[0].control, sizeof(c), cudaMemcpyDeviceToHost);
    return c;
  }
  unsigned long long total() const {
    unsigned long long v = 0;
    cudaMemcpy(&v, sum, sizeof(v), cudaMemcpyDeviceToHost);
    return v;
  }
  ~gpu_range() {
    cudaFree(r.slots[0].frames);
    cudaFree(r.slots[0].ptes);
    cudaFreeHost(r.slots[0].mailbox);
    cudaFree(r.slots[0].control);
    cudaFree(sum);
  }
};

bool have_device(std::string& why) {
  int count = 0;
  const cudaError_t e = cudaGetDeviceCount(&count);
  if (e != cudaSuccess || count == 0) {
    why = e != cudaSuccess ? cudaGetErrorString(e) : "no device";
    cudaGetLastError();
    return false;
  }
  return true;
}

TEST(DeviceViewGpu, ResidentPagesAndFaultsServedThroughTheMailbox) {
  std::string why;
  if (!have_device(why)) GTEST_SKIP() << "no usable CUDA device: " << why;
  gpu_range g;
  g.init(5'000'000'000ull);
  cudaStream_t copy;
  CHECK_CUDA(cudaStreamCreateWithFlags(&copy, cudaStreamNonBlocking));
  g.make_resident(0, copy);
  g.make_resident(1, copy);

  // The host side of the protocol: drain records, copy the page, publish its entry after it.
  std::atomic<bool> stop{false};
  std::atomic<int> served{0};
  std::thread service([&] {
    fault_mailbox& mb = *g.r.slots[0].mailbox;
    std::uint32_t tail = 0;
    std::vector<bool> done(pages, false);
    while (!stop) {
      auto& slot = mb.slots[tail % fault_mailbox::capacity];
      if (load_acquire(&slot.seq) != tail + 1) {
        std::this_thread::yield();
        continue;
      }
      const std::uint32_t page = slot.record.page;
      store_release(&mb.tail, ++tail);
      if (!done[page]) {
        done[page] = true;
        g.make_resident(page, copy);
        served.fetch_add(1);
      }
    }
  });
  uvm::const_device_view<int> v(g.r, n);
  sum_kernel<<<(n + 255) / 256, 256>>>(v, g.sum);
  const cudaError_t e = cudaDeviceSynchronize();
  stop = true;
  service.join();
  ASSERT_EQ(e, cudaSuccess) << cudaGetErrorString(e);
  unsigned long long expect = 0;
  for (int x : g.host) expect += static_cast<unsigned long long>(x);
  EXPECT_EQ(g.total(), expect);
  EXPECT_EQ(served.load(), 2) << "pages 2 and 3 faulted, 0 and 1 were resident";
  // At most one record per warp and page (plus a re-post now and then): a page of ints is 512
  // warps of 32 lanes, so lanes posting one by one would claim up to 32x more.
  constexpr std::uint32_t warps_per_page = page_bytes / sizeof(int) / 32;
  EXPECT_LE(g.control().head, 2 * 2 * warps_per_page) << "faults were not coalesced per warp";
  EXPECT_EQ(g.control().error, 0u);
  cudaStreamDestroy(copy);
}

TEST(DeviceViewGpu, UnservedFaultEndsInADeviceErrorNotAHang) {
  std::string why;
  if (!have_device(why)) GTEST_SKIP() << "no usable CUDA device: " << why;
  gpu_range g;
  g.init(50'000'000ull);  // 50 ms
  uvm::const_device_view<int> v(g.r, n);
  sum_kernel<<<(n + 255) / 256, 256>>>(v, g.sum);
  ASSERT_EQ(cudaDeviceSynchronize(), cudaSuccess);
  const mailbox_control c = g.control();
  EXPECT_EQ(c.error, static_cast<std::uint32_t>(device_error::fault_timeout));
  EXPECT_LT(c.error_page, pages);
  EXPECT_EQ(g.total(), 0u) << "every load of an unserved page returns T{}";
}

}  // namespace
