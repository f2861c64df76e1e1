// uvm::launch compiled by nvcc: a real CUDA kernel on a GPU (the cuda backend), CPU threads on
// the emulated device. The same body, the same checks, on whichever device the machine has.
#include <uvm/uvm.hpp>

#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

namespace {

uvm::config with_page(std::size_t page_size) {
  uvm::config c = uvm::config::from_env();
  c.page_size = page_size;
  return c;
}

// nvcc does not take extended lambdas inside a test body (a private member function): the
// kernels are free functions.
void triple_plus_one(uvm::manager& mgr, uvm::device_view<std::uint32_t> v) {
  uvm::launch(mgr, v.size(), [=] UVM_HOST_DEVICE(std::size_t i) { v.store(i, v.load(i) * 3 + 1); });
}

constexpr std::size_t per_page = 4096 / sizeof(float);

void twice_by_page(uvm::manager& mgr, uvm::const_device_view<float> x, uvm::device_view<float> y,
                   const uvm::stream& s) {
  uvm::launch(
      mgr, x.size() / per_page,
      [=] UVM_HOST_DEVICE(std::size_t p) {
        const auto src = x.span_at(p * per_page);
        const auto dst = y.span_at(p * per_page);
        for (std::size_t k = 0; k < src.count; ++k) dst.data[k] = 2 * src.data[k];
      },
      s);
}

// Adds 1000000 times the number of the device it runs on (detail::current_device(): the CUDA
// ordinal on a GPU, the emulated device's index) to elements [first, first + n).
void stamp_device(uvm::manager& mgr, uvm::device_view<std::uint32_t> v, std::size_t first,
                  std::size_t n, const uvm::stream& s) {
  uvm::launch(
      mgr, n,
      [=] UVM_HOST_DEVICE(std::size_t i) {
        v.store(first + i, uvm::detail::current_device() * 1000000u + v.load(first + i));
      },
      s);
}

void copy_span(uvm::manager& mgr, uvm::const_device_view<std::uint32_t> from,
               uvm::device_view<std::uint32_t> to, std::size_t first, std::size_t n,
               const uvm::stream& s) {
  uvm::launch(
      mgr, n, [=] UVM_HOST_DEVICE(std::size_t i) { to.store(i, from.load(first + i)); }, s);
}

// Several devices in one manager (every visible GPU on the cuda backend, two emulated devices
// elsewhere): a kernel on a stream of device d runs on device d and knows it, and a kernel on
// device 1 reads what device 0 wrote, moved device to device.
TEST(Launch, KernelsRunOnTheirStreamsDeviceAndReadWhatAnotherDeviceWrote) {
  uvm::config cfg = with_page(64 << 10);
  cfg.emulated_devices = 2;
  uvm::manager mgr(cfg);
  if (mgr.device_count() < 2) GTEST_SKIP() << "one GPU: the multi-device launch needs two";
  const auto devices = static_cast<std::size_t>(mgr.device_count());
  constexpr std::size_t per = 4 * 16384;  // four pages per device
  auto a = mgr.allocate<std::uint32_t>(devices * per);
  auto b = mgr.allocate<std::uint32_t>(per);
  for (std::size_t i = 0; i < a.size(); ++i) a[i] = static_cast<std::uint32_t>(i);
  std::vector<uvm::stream> streams;
  for (std::size_t d = 0; d < devices; ++d) {
    streams.push_back(mgr.create_stream("device", static_cast<int>(d)));
    stamp_device(mgr, a.view(), d * per, per, streams[d]);
  }
  mgr.synchronize();
  copy_span(mgr, a.const_view(), b.view(), 0, per, streams[1]);  // device 0's quarter
  mgr.synchronize();
  const uvm::stats st = mgr.stats();
  EXPECT_EQ(st.devices[1].bytes_from_device[0], per * 4)
      << "device 0's quarter did not move to device 1 device to device";
  for (std::size_t i = 0; i < per; ++i) ASSERT_EQ(b[i], i) << i;  // device 0 added 0
  for (std::size_t i = 0; i < a.size(); ++i) {
    ASSERT_EQ(a[i], (i / per) * 1000000u + i) << "element " << i << " ran on the wrong device";
  }
}

TEST(Launch, LeavesTheApplicationsPendingErrorForTheApplication) {
  uvm::manager mgr(with_page(64 << 10));
  if (mgr.backend() != uvm::backend_kind::cuda) GTEST_SKIP() << "needs the cuda backend";
  auto a = mgr.allocate<std::uint32_t>(1024);
  int count = 0;
  ASSERT_EQ(cudaGetDeviceCount(&count), cudaSuccess);
  // The application's own failed call, not yet checked by it (not sticky).
  ASSERT_EQ(cudaSetDevice(count + 7), cudaErrorInvalidDevice);
  triple_plus_one(mgr, a.view());
  mgr.synchronize();
  EXPECT_EQ(cudaGetLastError(), cudaErrorInvalidDevice) << "uvm took the application's error";
  EXPECT_EQ(a[5], 1u);
}

TEST(Launch, KernelUpdatesPagesTheCpuWroteAndReadsBack) {
  uvm::manager mgr(with_page(64 << 10));
  constexpr std::size_t n = 1 << 20;  // 4 MiB of uint32: 64 pages
  auto a = mgr.allocate<std::uint32_t>(n);
  for (std::size_t i = 0; i < n; ++i) a[i] = static_cast<std::uint32_t>(i);
  triple_plus_one(mgr, a.view());
  mgr.synchronize();
  for (std::size_t i = 0; i < n; ++i) ASSERT_EQ(a[i], i * 3 + 1) << i;
  const uvm::stats s = mgr.stats();
  EXPECT_EQ(s.bytes_host_to_device, n * 4);
  EXPECT_EQ(s.bytes_device_to_host, n * 4);
  EXPECT_GT(s.device.count, 0u);
}

TEST(Launch, OnANamedStreamWithPageSpans) {
  uvm::manager mgr(with_page(4096));
  constexpr std::size_t n = 1 << 18;
  auto in = mgr.allocate<float>(n);
  auto out = mgr.allocate<float>(n);
  for (std::size_t i = 0; i < n; ++i) in[i] = static_cast<float>(i);
  const uvm::stream s = mgr.create_stream("test");
  twice_by_page(mgr, in.const_view(), out.view(), s);
  mgr.synchronize(s);
  for (std::size_t i = 0; i < n; ++i) ASSERT_EQ(out[i], 2.0f * i) << i;
  EXPECT_EQ(mgr.stats().bytes_device_to_host, n * 4) << "only the written range comes back";
}

}  // namespace
