// After a sticky device error (an illegal address in an application's kernel) every later device
// call fails, as CUDA's do once a context is corrupted. A CPU access to a page that the failed
// kernel held device-side must then end in a clear error (a critical message naming the page,
// then an abort, or SIGBUS under userfaultfd) or complete with the data, within the fault
// timeout: never hang. The emulated device stands in for the GPU: a kernel body that throws
// makes the backend sticky.
#include "tests/backend/forwarding_backend.hpp"
#include "tests/migration/device_rig.hpp"

#include <uvm/device_view.hpp>
#include <uvm/error.hpp>

#include <gtest/gtest.h>

#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <thread>

namespace uvm::detail {
namespace {

using namespace std::chrono_literals;

// The emulated device with CUDA's sticky errors: once a kernel body throws, every copy, entry
// publication and event record fails, and events report completion (as a failed CUDA stream's
// do), so nothing waits on work that will never run.
class sticky_backend final : public testing::forwarding_backend {
 public:
  explicit sticky_backend(backend& inner) : forwarding_backend(inner) {}
  [[nodiscard]] bool failed() const noexcept { return failed_.load(); }

 private:
  void check(const char* call) const {
    if (failed_.load()) {
      throw cuda_error(std::string(call) + ": cudaErrorIllegalAddress (sticky, emulated)", 700);
    }
  }
  void* do_allocate_device(std::size_t bytes, device_id d, device_fill fill) override {
    check("cudaMalloc");
    return inner().allocate_device(bytes, d, fill);
  }
  void do_copy_async(void* dst, const void* src, std::size_t bytes, copy_kind kind,
                     const stream& s) override {
    check("cudaMemcpyAsync");
    inner().copy_async(dst, src, bytes, kind, s);
  }
  void do_copy_entries_async(std::uint32_t* dst, const std::uint32_t* src, std::size_t count,
                             const stream& s) override {
    check("cudaMemcpyAsync (entries)");
    inner().copy_entries_async(dst, src, count, s);
  }
  void do_launch(std::size_t n, kernel_body body, const stream& s) override {
    check("cudaLaunchKernel");
    inner().launch(
        n,
        [this, body = std::move(body)](std::size_t b, std::size_t e) {
          try {
            body(b, e);
          } catch (...) {
            failed_.store(true);
            throw;
          }
        },
        s);
  }
  event do_record(const stream& s) override {
    check("cudaEventRecord");
    return inner().record(s);
  }
  bool do_query(const event& e) noexcept override { return failed_.load() || inner().query(e); }
  bool do_wait(const event& e, std::chrono::nanoseconds timeout) noexcept override {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!do_query(e)) {
      if (std::chrono::steady_clock::now() >= deadline) return false;
      (void)inner().wait(e, 1ms);
    }
    return true;
  }

  std::atomic<bool> failed_{false};
};

constexpr std::size_t pages = 4;
constexpr auto fault_timeout = 2s;

// In a child process (the outcome may be an abort): a kernel writes every page of a range, so
// the device holds them all, and throws at its last index; then the CPU reads page 0. Exits 0
// if the read completed with the kernel's data; an alarm ends a child that hangs.
[[noreturn]] void touch_after_a_sticky_error() {
  alarm(static_cast<unsigned>(3 * fault_timeout.count()) + 5);
  emulated_backend inner;
  sticky_backend sticky(inner);
  device_rig rig(2 * pages, fault_timeout, &sticky);
  managed_range& a = rig.allocate(pages);
  const std::size_t n = pages * words_per_page;
  const device_view<std::uint32_t> v(a.device(), n);
  rig.launch(n, [v, n](std::size_t b, std::size_t e) {
    for (std::size_t i = b; i < e; ++i) {
      v.store(i, 7);
      if (i == n - 1) throw std::runtime_error("an illegal address (emulated)");
    }
  });
  while (!sticky.failed()) std::this_thread::yield();
  const std::uint32_t seen = *reinterpret_cast<volatile std::uint32_t*>(a.base());
  std::fprintf(stderr, "the read completed: %u\n", static_cast<unsigned>(seen));
  std::fflush(stderr);
  std::_Exit(seen == 7 ? 0 : 3);
}

// The clear error: the signal mechanism aborts; userfaultfd sends the thread SIGBUS. Both after
// a critical message naming the page.
bool completed_or_ended_clearly(int status) {
  return (WIFEXITED(status) && WEXITSTATUS(status) == 0) ||
         (WIFSIGNALED(status) && (WTERMSIG(status) == SIGABRT || WTERMSIG(status) == SIGBUS));
}

TEST(StickyErrorDeathTest, ACpuAccessToAPageTheFailedKernelHeldEndsWithinTheFaultTimeout) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  // Either the data came back, or the abort names the page and why it was not served.
  EXPECT_EXIT(touch_after_a_sticky_error(), completed_or_ended_clearly,
              "the read completed: 7|\\[uvm\\] \\[critical\\] CPU read fault at");
}

}  // namespace
}  // namespace uvm::detail
