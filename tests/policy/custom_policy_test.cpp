// An application's own policies through uvm::config (uvm/policy.hpp), inside the runtime on the
// emulated device: they decide the victims and the prefetched pages, their mistakes are
// contained, and a factory that gives nothing is a clear error.
#include "tests/common/prefetch_now.hpp"
#include "tests/migration/emulated_config.hpp"

#include <uvm/policy.hpp>
#include <uvm/uvm.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <set>
#include <stdexcept>

namespace {

using uvm::testing::emulated;
constexpr std::size_t page = 4096, per_page = page / 4;

// Evicts the resident page with the highest number; counts its calls.
class highest_first final : public uvm::eviction_policy {
 public:
  std::size_t residents = 0, releases = 0, victims = 0;
  bool throw_victim = false;
  bool ignore_releases = false;  // a broken policy: keeps naming pages that lost their frame

 private:
  void do_on_resident(uvm::page_ref p) override {
    ++residents;
    set_.insert(p);
  }
  void do_on_access(uvm::page_ref) override {}
  void do_on_released(uvm::page_ref p) override {
    ++releases;
    if (!ignore_releases) set_.erase(p);
  }
  std::optional<uvm::page_ref> do_victim() override {
    ++victims;
    if (throw_victim) throw std::runtime_error("no victim today");
    if (set_.empty()) return std::nullopt;
    return *set_.rbegin();
  }
  std::size_t do_size() const noexcept override { return set_.size(); }
  std::string_view do_name() const noexcept override { return "highest-first"; }
  bool do_uses_accesses() const noexcept override { return false; }
  std::set<uvm::page_ref> set_;
};

// Prefetches `answer(faulting)`: by default the next page.
class scripted_prefetch final : public uvm::prefetch_policy {
 public:
  std::function<std::vector<std::size_t>(std::size_t)> answer = [](std::size_t f) {
    return std::vector<std::size_t>{f + 1};
  };

 private:
  void do_expand(std::size_t faulting, const uvm::block_state& block,
                 std::vector<std::size_t>& out) override {
    for (std::size_t q : answer(faulting)) {
      if (q >= block.first_page + block.page_count || block.resident(q)) continue;
      out.push_back(q);
    }
  }
  std::string_view do_name() const noexcept override { return "scripted"; }
};

template <class P>
std::function<std::unique_ptr<P>()> handing_out(P*& seen) {
  return [&seen] {
    auto p = std::make_unique<P>();
    seen = p.get();
    return p;
  };
}

TEST(CustomPolicy, AnApplicationsEvictionPolicyPicksTheVictims) {
  uvm::config cfg = emulated(page, 4 * page);
  highest_first* policy = nullptr;
  cfg.custom_eviction = [&policy]() -> std::unique_ptr<uvm::eviction_policy> {
    auto p = std::make_unique<highest_first>();
    policy = p.get();
    return p;
  };
  uvm::manager mgr(cfg);
  ASSERT_NE(policy, nullptr);
  auto a = mgr.allocate<std::uint32_t>(4 * per_page);
  auto b = mgr.allocate<std::uint32_t>(2 * per_page);
  for (std::size_t p = 0; p < 4; ++p) a[p * per_page] = static_cast<std::uint32_t>(p + 1);
  ASSERT_EQ(uvm::testing::prefetch_now(mgr, a.bytes(), uvm::location::device()), 4u);
  ASSERT_EQ(uvm::testing::prefetch_now(mgr, b.bytes(), uvm::location::device()), 2u);
  EXPECT_EQ(mgr.stats().evictions, 2u);
  // Only a's pages were resident when b came: its highest pages, 3 and 2, went.
  EXPECT_EQ(mgr.state_of(a.data()), uvm::page_state::device_exclusive);
  EXPECT_EQ(mgr.state_of(a.data() + per_page), uvm::page_state::device_exclusive);
  EXPECT_EQ(mgr.state_of(a.data() + 2 * per_page), uvm::page_state::host_exclusive);
  EXPECT_EQ(mgr.state_of(a.data() + 3 * per_page), uvm::page_state::host_exclusive);
  EXPECT_EQ(policy->residents, 6u);
  EXPECT_EQ(policy->size(), 4u);
  EXPECT_EQ(a[3 * per_page], 4u) << "the evicted page's data came back";
}

TEST(CustomPolicy, AnApplicationsPrefetchPolicyMovesItsPagesAlong) {
  uvm::config cfg = emulated(page);
  scripted_prefetch* policy = nullptr;
  cfg.custom_prefetch = handing_out(policy);
  uvm::manager mgr(cfg);
  auto x = mgr.allocate<std::uint32_t>(64 * per_page);
  for (std::size_t p = 0; p < 64; ++p) x[p * per_page] = static_cast<std::uint32_t>(p);
  auto v = x.const_view();
  std::atomic<std::uint64_t> sum{0};
  // One index walks the pages in order: each fault brings its next page too.
  mgr.parallel_for(1, [=, &sum](std::size_t) {
    std::uint64_t s = 0;
    for (std::size_t p = 0; p < 64; ++p) s += v.load(p * per_page);
    sum += s;
  });
  mgr.synchronize();
  EXPECT_EQ(sum.load(), 64u * 63u / 2u);
  EXPECT_EQ(mgr.stats().device.count, 32u);
  EXPECT_EQ(mgr.stats().prefetched_pages, 32u);
}

TEST(CustomPolicy, AWrongPrefetchAnswerIsFilteredToTheBlock) {
  uvm::config cfg = emulated(page);
  scripted_prefetch* policy = nullptr;
  cfg.custom_prefetch = handing_out(policy);
  uvm::manager mgr(cfg);
  // Outside the range, outside the block, the faulting page itself, descending, twice.
  policy->answer = [](std::size_t f) {
    return std::vector<std::size_t>{f + 1'000'000, f, f + 3, f + 2, f + 3, 100'000};
  };
  auto x = mgr.allocate<std::uint32_t>(8 * per_page);
  for (std::size_t p = 0; p < 8; ++p) x[p * per_page] = static_cast<std::uint32_t>(p + 10);
  auto v = x.view();
  mgr.parallel_for(1, [=](std::size_t) { v.store(0, v.load(0) + 1); });
  mgr.synchronize();
  EXPECT_EQ(x[0], 11u);
  EXPECT_EQ(mgr.stats().prefetched_pages, 1u) << "only page 3 was a valid answer";
  EXPECT_EQ(mgr.state_of(x.data() + 3 * per_page), uvm::page_state::device_exclusive);
  EXPECT_EQ(x[3 * per_page], 13u);
}

TEST(CustomPolicy, APolicyThatThrowsLosesItsAdviceNotTheData) {
  uvm::config cfg = emulated(page, 2 * page);
  highest_first* policy = nullptr;
  cfg.custom_eviction = handing_out(policy);
  uvm::manager mgr(cfg);
  auto a = mgr.allocate<std::uint32_t>(4 * per_page);
  for (std::size_t p = 0; p < 4; ++p) a[p * per_page] = static_cast<std::uint32_t>(p + 1);
  ASSERT_EQ(uvm::testing::prefetch_now(mgr, a.data(), 2 * page, uvm::location::device()), 2u);
  policy->throw_victim = true;
  // No victim: nothing is evicted, the two pages that do not fit stay on the host.
  EXPECT_EQ(
      uvm::testing::prefetch_now(mgr, a.data() + 2 * per_page, 2 * page, uvm::location::device()),
      0u);
  EXPECT_GT(policy->victims, 0u);
  EXPECT_EQ(mgr.stats().evictions, 0u);
  for (std::size_t p = 0; p < 4; ++p) EXPECT_EQ(a[p * per_page], p + 1);
}

TEST(CustomPolicy, AVictimThatIsPinnedOrHasNoFrameIsNotEvicted) {
  uvm::config cfg = emulated(page, 2 * page);
  highest_first* policy = nullptr;
  cfg.custom_eviction = handing_out(policy);
  uvm::manager mgr(cfg);
  auto a = mgr.allocate<std::uint32_t>(3 * per_page);
  for (std::size_t p = 0; p < 3; ++p) a[p * per_page] = static_cast<std::uint32_t>(p + 1);
  policy->ignore_releases = true;
  // Page 1 pinned on the device: the manager releases it from the policy, which ignores that.
  mgr.pin_resident(a.data() + per_page, page, uvm::location::device());
  ASSERT_EQ(uvm::testing::prefetch_now(mgr, a.data(), page, uvm::location::device()), 1u);
  // The device is full; the policy names page 1 (the highest it knows), pinned: nothing goes.
  EXPECT_EQ(uvm::testing::prefetch_now(mgr, a.data() + 2 * per_page, page, uvm::location::device()),
            0u);
  EXPECT_EQ(mgr.state_of(a.data() + per_page), uvm::page_state::device_exclusive);
  EXPECT_EQ(mgr.stats().evictions, 0u);
  mgr.unpin(a.data() + per_page, page);
  for (std::size_t p = 0; p < 3; ++p) EXPECT_EQ(a[p * per_page], p + 1);
}

TEST(CustomPolicy, AFactoryThatGivesNothingIsAClearError) {
  uvm::config cfg = emulated(page);
  cfg.custom_eviction = [] { return std::unique_ptr<uvm::eviction_policy>(); };
  try {
    uvm::manager mgr(cfg);
    ADD_FAILURE() << "no error";
  } catch (const uvm::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("custom_eviction"), std::string::npos) << e.what();
  }
}

}  // namespace
