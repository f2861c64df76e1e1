// GoogleTest wrapper for the C API tests in c_api_test.c (compiled as C), plus the parts that
// need C++: a real device fault through uvmDeviceSynchronize, the exception mapping, threads.
#include "host/c_api_state.hpp"
#include "host/coherence/managed_range.hpp"
#include "host/fault/sources/range_registry.hpp"

#include <uvm/uvm.h>
#include <uvm/error.hpp>
#include <uvm/uvm.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <new>
#include <string>
#include <thread>
#include <vector>

extern "C" {
int c_api_alloc_write_prefetch_both_ways(void);
int c_api_streams(void);
int c_api_advise_read_mostly(void);
int c_api_page_state_attribute_errors(void);
int c_api_malloc_errors(void);
int c_api_free_errors(void);
int c_api_bad_device_and_span(void);
int c_api_advice_and_attributes(void);
int c_api_last_error_semantics(void);
int c_api_attach_and_batches(void);
}

namespace {

// The default manager reads UVM_* when first used: keep device-fault waits short and the
// backend emulated, before any test runs.
const bool configured = [] {
  setenv("UVM_FAULT_TIMEOUT_MS", "300", 1);
  setenv("UVM_BACKEND", "emulated", 0);
  return true;
}();

std::string where(int line) {
  return "c_api_test.c:" + std::to_string(line) + " failed; last error " +
         uvmGetErrorName(uvmPeekAtLastError()) + ": " + uvmGetLastErrorMessage();
}

#define C_TEST(name, fn)               \
  TEST(CApi, name) {                   \
    const int line = fn();             \
    EXPECT_EQ(line, 0) << where(line); \
  }

C_TEST(AllocateWritePrefetchBothWays, c_api_alloc_write_prefetch_both_ways)
C_TEST(Streams, c_api_streams)
C_TEST(AdviseReadMostly, c_api_advise_read_mostly)
C_TEST(PageStateAttributeAndErrors, c_api_page_state_attribute_errors)
C_TEST(MallocErrors, c_api_malloc_errors)
C_TEST(FreeErrors, c_api_free_errors)
C_TEST(BadDeviceAndSpan, c_api_bad_device_and_span)
C_TEST(AdviceAndAttributesRoundTrip, c_api_advice_and_attributes)
C_TEST(LastErrorSemantics, c_api_last_error_semantics)
C_TEST(AttachAndBatches, c_api_attach_and_batches)

TEST(CApi, LastErrorIsPerThread) {
  void* p = nullptr;
  (void)uvmGetLastError();
  ASSERT_EQ(uvmMallocManaged(&p, 0, uvmMemAttachGlobal), uvmErrorInvalidValue);
  std::thread([] {
    EXPECT_EQ(uvmPeekAtLastError(), uvmSuccess);
    EXPECT_STREQ(uvmGetLastErrorMessage(), "");
  }).join();
  EXPECT_EQ(uvmGetLastError(), uvmErrorInvalidValue);
}

TEST(CApi, PrefetchesFromManyThreadsOnTheDefaultStreamAllRun) {
  // uvmMemPrefetchAsync(..., 0) from 8 threads at once, then uvmDeviceSynchronize: the stream
  // runs every prefetch and never stops (it hung for good about half the time).
  constexpr unsigned threads = 8;
  constexpr unsigned rounds = 100;
  constexpr std::size_t bytes = 256 << 10;
  std::atomic<unsigned> arrived{0};
  std::atomic<bool> failed{false};
  std::vector<std::thread> pool;
  for (unsigned t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      void* p = nullptr;
      if (uvmMallocManaged(&p, bytes, uvmMemAttachGlobal) != uvmSuccess) {
        failed.store(true);
        ADD_FAILURE() << "uvmMallocManaged: " << uvmGetLastErrorMessage();
      }
      for (unsigned round = 0; round < rounds && !failed.load(); ++round) {
        arrived.fetch_add(1);
        while (arrived.load() < (round + 1) * threads && !failed.load()) std::this_thread::yield();
        static_cast<unsigned char*>(p)[t] = static_cast<unsigned char>(round);
        const int to = round % 2 == 0 ? 0 : uvmCpuDeviceId;
        if (uvmMemPrefetchAsync(p, bytes, to, nullptr) != uvmSuccess ||
            uvmDeviceSynchronize() != uvmSuccess) {
          if (!failed.exchange(true)) {
            ADD_FAILURE() << "thread " << t << ", round " << round << ": "
                          << uvmGetErrorName(uvmPeekAtLastError()) << ": "
                          << uvmGetLastErrorMessage();
          }
        }
      }
      if (p != nullptr) EXPECT_EQ(uvmFree(p), uvmSuccess);
    });
  }
  for (std::thread& th : pool) th.join();
  EXPECT_FALSE(failed.load());
}

TEST(CApi, UnservedKernelAccessIsDeviceFaultOnce) {
  uvm::manager& mgr = uvm::capi::default_manager();
  ASSERT_LE(mgr.configuration().fault_timeout.count(), 1000) << "UVM_FAULT_TIMEOUT_MS not used";
  const std::size_t page = mgr.configuration().page_size;
  auto a = mgr.allocate<int>(2 * page / sizeof(int));
  // Hold page 1 in a transition that never ends, as a stuck migration would.
  auto pin = uvm::detail::range_registry::process().find(a.data());
  ASSERT_TRUE(pin);
  uvm::detail::page_word w = pin->pages().load(1);
  ASSERT_TRUE(pin->pages().try_claim(1, w));
  auto v = a.view();
  const std::size_t per_page = page / sizeof(int);
  mgr.parallel_for(2, [=](std::size_t i) { v.store(i * per_page, 42); });
  (void)uvmGetLastError();
  EXPECT_EQ(uvmDeviceSynchronize(), uvmErrorDeviceFault);
  EXPECT_NE(std::string(uvmGetLastErrorMessage()).find("not served within the fault timeout"),
            std::string::npos)
      << uvmGetLastErrorMessage();
  EXPECT_EQ(uvmGetLastError(), uvmErrorDeviceFault);
  pin->pages().publish(1, uvm::page_state::unpopulated);
  EXPECT_EQ(a[0], 42);
  EXPECT_EQ(uvmDeviceSynchronize(), uvmSuccess) << "reported once, not sticky";
}

TEST(CApi, ExceptionMapping) {
  using uvm::capi::code_of;
  using uvm::capi::origin;
  auto ptr = [](auto e) { return std::make_exception_ptr(e); };
  EXPECT_EQ(code_of(ptr(uvm::invalid_argument("x")), origin::call), uvmErrorInvalidValue);
  EXPECT_EQ(code_of(ptr(uvm::out_of_memory("x")), origin::call), uvmErrorMemoryAllocation);
  EXPECT_EQ(code_of(ptr(std::bad_alloc()), origin::call), uvmErrorMemoryAllocation);
  EXPECT_EQ(code_of(ptr(uvm::cuda_error("x", 2)), origin::call), uvmErrorUnknown);
  EXPECT_EQ(code_of(ptr(uvm::system_error("x", 5)), origin::synchronize), uvmErrorUnknown);
  EXPECT_EQ(code_of(ptr(uvm::device_fault("x")), origin::synchronize), uvmErrorDeviceFault);
  EXPECT_EQ(code_of(ptr(uvm::error("x")), origin::synchronize), uvmErrorUnknown);
  EXPECT_EQ(code_of(ptr(uvm::timeout("x")), origin::synchronize), uvmErrorTimeout);
  EXPECT_EQ(code_of(ptr(std::runtime_error("x")), origin::call), uvmErrorUnknown);
  EXPECT_EQ(code_of(ptr(42), origin::call), uvmErrorUnknown);
  EXPECT_EQ(code_of(ptr(uvm::invalid_argument("UVM_PAGE_SIZE")), origin::init),
            uvmErrorInitializationError);
}

}  // namespace
