// Failure paths of the migration engine: a backend that fails the n-th copy, entry publication,
// event record or allocation, and a fault source whose widening mprotect fails, for every n
// along a migration. Pages must end in their old or their new state with their data, never
// busy; what was asked for fails with a clear error or is retried, never hangs.
#include "tests/backend/failing_backend.hpp"
#include "tests/migration/device_rig.hpp"

#include <uvm/device_view.hpp>
#include <uvm/error.hpp>

#include <gtest/gtest.h>

#include <sys/mman.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <thread>

namespace uvm::detail {
namespace {

using namespace std::chrono_literals;
using testing::failing_backend;
using op = failing_backend::op;

constexpr std::size_t pages = 8;

std::uint32_t* words(const managed_range& r) {
  return reinterpret_cast<std::uint32_t*>(r.base());
}
std::uint32_t pattern(std::uint32_t tag, std::size_t word) {
  return (tag << 24) | static_cast<std::uint32_t>(word);
}
void fill(const managed_range& r, std::uint32_t tag) {
  for (std::size_t i = 0; i < pages * words_per_page; ++i) words(r)[i] = pattern(tag, i);
}
// Through the app view: faults bring every page back as needed.
std::size_t first_mismatch(const managed_range& r, std::uint32_t tag) {
  for (std::size_t i = 0; i < pages * words_per_page; ++i) {
    if (words(r)[i] != pattern(tag, i)) return i;
  }
  return pages * words_per_page;
}
void expect_no_page_busy(const managed_range& r, const char* what, std::uint64_t n) {
  for (std::size_t p = 0; p < r.page_count(); ++p) {
    EXPECT_NE(r.state_of(p), page_state::migrating)
        << "page " << p << " left busy after failing " << what << " #" << n;
  }
}

const char* name_of(op o) {
  switch (o) {
    case op::allocate: return "allocate";
    case op::copy: return "copy";
    case op::entries: return "entries";
    case op::record: return "record";
    case op::count_: break;
  }
  return "?";
}

// Runs `action` with the n-th call of `o` from now failing, then disarms the backend.
struct injection {
  bool threw;     ///< the action reported an error
  bool injected;  ///< a failure was injected (n was within the action's calls)
};
template <class Action>
injection fail_nth(failing_backend& fb, op o, std::uint64_t n, Action&& action) {
  fb.fail(o, n);
  bool threw = false;
  try {
    action();
  } catch (const uvm::error&) {
    threw = true;
  }
  const bool injected = fb.injected() != 0;
  fb.disarm();
  return {threw, injected};
}

class FaultInjection : public ::testing::TestWithParam<op> {};

TEST_P(FaultInjection, PrefetchToTheDeviceLosesNoPageAtAnyStep) {
  for (std::uint64_t n = 1;; ++n) {
    emulated_backend inner;
    failing_backend fb(inner);
    device_rig rig(2 * pages, 2s, &fb);
    managed_range& a = rig.allocate(pages);
    fill(a, 0xa);
    const auto [threw, injected] =
        fail_nth(fb, GetParam(), n, [&] { (void)rig.mig.prefetch(a, 0, pages, true); });
    expect_no_page_busy(a, name_of(GetParam()), n);
    EXPECT_EQ(threw, injected) << "a failure is reported, and only then";
    // Every page is usable again: moved to the device and back with its data.
    (void)rig.mig.prefetch(a, 0, pages, true);  // moves what the failure left on the host
    EXPECT_EQ(rig.mig.prefetch(a, 0, pages, false), pages) << "every page went to the device";
    EXPECT_EQ(first_mismatch(a, 0xa), pages * words_per_page) << "failing #" << n;
    if (!injected || HasFailure()) break;
  }
}

TEST_P(FaultInjection, PrefetchToTheHostKeepsWhatTheDeviceWrote) {
  for (std::uint64_t n = 1;; ++n) {
    emulated_backend inner;
    failing_backend fb(inner);
    device_rig rig(2 * pages, 2s, &fb);
    managed_range& a = rig.allocate(pages);
    fill(a, 0xa);
    // A raw kernel's writes: launch residency marks the pages dirty, then the frames change.
    auto* d = reinterpret_cast<std::uint32_t*>(rig.mig.make_resident(a, 0, pages, true));
    rig.mig.forget_declared();
    for (std::size_t i = 0; i < pages * words_per_page; ++i) d[i] = pattern(0xb, i);
    const auto [threw, injected] =
        fail_nth(fb, GetParam(), n, [&] { (void)rig.mig.prefetch(a, 0, pages, false); });
    expect_no_page_busy(a, name_of(GetParam()), n);
    EXPECT_EQ(threw, injected);
    EXPECT_EQ(first_mismatch(a, 0xb), pages * words_per_page) << "failing #" << n;
    if (!injected || HasFailure()) break;
  }
}

TEST_P(FaultInjection, ADiscardLeavesNoPageBusyAndEveryPageUsable) {
  for (std::uint64_t n = 1;; ++n) {
    emulated_backend inner;
    failing_backend fb(inner);
    device_rig rig(2 * pages, 2s, &fb);
    managed_range& a = rig.allocate(pages);
    fill(a, 0xa);
    (void)rig.mig.prefetch(a, 0, pages / 2, true);  // half on the device, half on the host
    const auto [threw, injected] =
        fail_nth(fb, GetParam(), n, [&] { (void)rig.mig.discard(a, 0, pages); });
    expect_no_page_busy(a, name_of(GetParam()), n);
    EXPECT_EQ(threw, injected) << "a failure is reported, and only then";
    // Whatever a failure left, a discard that succeeds makes every page read zeros, and the
    // range works on: its pages go to the device and back.
    (void)rig.mig.discard(a, 0, pages);
    for (std::size_t i = 0; i < pages * words_per_page; i += 97) {
      ASSERT_EQ(words(a)[i], 0u) << "word " << i << ", failing #" << n;
    }
    fill(a, 0xc);
    (void)rig.mig.prefetch(a, 0, pages, true);
    EXPECT_EQ(first_mismatch(a, 0xc), pages * words_per_page) << "failing #" << n;
    if (!injected || HasFailure()) break;
  }
}

TEST_P(FaultInjection, DeviceFaultsAreRetriedAfterAFailedMigration) {
  for (std::uint64_t n = 1;; ++n) {
    emulated_backend inner;
    failing_backend fb(inner);
    device_rig rig(2 * pages, 5s, &fb);
    managed_range& a = rig.allocate(pages);
    fill(a, 0xa);
    std::atomic<std::uint64_t> wrong{0};
    std::atomic<bool> armed{false};
    const device_view<std::uint32_t> v(a.device(), pages * words_per_page);
    rig.launch(pages * words_per_page, [&, v](std::size_t b, std::size_t e) {
      while (!armed) std::this_thread::yield();  // the launch's own calls do not count
      for (std::size_t i = b; i < e; ++i) {
        if (v.load(i) != pattern(0xa, i)) wrong.fetch_add(1);
        v.store(i, pattern(0xc, i));
      }
    });
    fb.fail(GetParam(), n);
    armed = true;
    rig.synchronize();
    const bool injected = fb.injected() != 0;
    fb.disarm();
    EXPECT_EQ(inner.take_error(), "");
    EXPECT_EQ(rig.control->error, 0u) << "no device access was dropped, failing #" << n;
    EXPECT_EQ(wrong.load(), 0u);
    expect_no_page_busy(a, name_of(GetParam()), n);
    EXPECT_EQ(first_mismatch(a, 0xc), pages * words_per_page) << "failing #" << n;
    if (!injected || HasFailure()) break;
  }
}

INSTANTIATE_TEST_SUITE_P(EveryStep, FaultInjection,
                         ::testing::Values(op::copy, op::entries, op::record),
                         [](const auto& info) { return std::string(name_of(info.param)); });

// Page tables come from a pool made at start; a range that does not fit grows it (no kernel in
// flight), and a failed growth leaves no range and the pool as it was.
TEST(FaultInjectionAllocate, AFailedPageTableAllocationLeavesNoRange) {
  emulated_backend inner;
  failing_backend fb(inner);
  device_rig rig(pages, 2s, &fb);
  managed_range r(rig.ctx, (table_pool::default_entries + 1) * page_bytes, page_bytes);
  fb.fail(op::allocate, 1);
  EXPECT_THROW(rig.mig.attach(r), uvm::error);
  EXPECT_EQ(fb.injected(), 1u) << "the range did not need a new arena";
  fb.disarm();
  managed_range& a = rig.allocate(pages);  // the next one works
  fill(a, 0xd);
  EXPECT_EQ(rig.mig.prefetch(a, 0, pages, true), pages);
  EXPECT_EQ(first_mismatch(a, 0xd), pages * words_per_page);
}

// A fault source whose next widening calls fail with ENOMEM (as mprotect at vm.max_map_count);
// every other call goes to the run's own mechanism.
class failing_source final : public view_protection {
 public:
  std::atomic<int> widen_failures{0};  ///< how many widening calls still fail

 private:
  int do_protect(const view_span& v, host_access from, host_access to) noexcept override {
    if (to == host_access::read_write && widen_failures.load() > 0) {
      widen_failures.fetch_sub(1);
      return ENOMEM;
    }
    return inner_->protect(v, from, to);
  }
  bool do_splits_mappings() const noexcept override { return inner_->splits_mappings(); }
  void do_attach(std::byte* app, std::size_t bytes) override { inner_->attach(app, bytes); }
  std::string_view do_name() const noexcept override { return "failing"; }

  std::shared_ptr<view_protection> inner_ = uvm::testing::test_fault_source();
};

TEST(FaultInjectionProtect, AFailedWideningAfterACopyBackNeverLeavesAStateWiderThanItsView) {
  failing_source src;
  device_rig rig(2 * pages, 2s, nullptr, &src);
  managed_range& a = rig.allocate(pages);
  fill(a, 0xe);
  ASSERT_EQ(rig.mig.prefetch(a, 0, pages, true), pages);
  src.widen_failures = 1;  // the copy back lands, then making the page writable fails once
  EXPECT_EQ(words(a)[3 * words_per_page], pattern(0xe, 3 * words_per_page));
  words(a)[3 * words_per_page] = 7;  // and the page is writable as its state says
  EXPECT_EQ(words(a)[3 * words_per_page], 7u);
  EXPECT_EQ(src.widen_failures.load(), 0);
  EXPECT_EQ(rig.stats.snapshot().spurious_faults, 0u) << "the view and the state agree";
}

}  // namespace
}  // namespace uvm::detail
