#include "host/policy/prefetch_policy.hpp"

#include "tests/policy/fake_block.hpp"

#include <uvm/error.hpp>

#include <gtest/gtest.h>

#include <string>

namespace uvm::detail {
namespace {

constexpr std::size_t kib = 1024;

TEST(NoPrefetch, AppendsNothing) {
  auto p = make_prefetch_policy("none");
  EXPECT_EQ(p->name(), "none");
  fake_range r;
  EXPECT_EQ(expand(*p, 3, r.block(0, 512, 4 * kib)), page_list{});
  page_list out = {7};
  p->expand(3, r.block(0, 512, 4 * kib), out);
  EXPECT_EQ(out, page_list{7});  // left as it was
}

TEST(SequentialPrefetch, WindowAfterTheFault) {
  auto p = make_prefetch_policy("sequential", {.sequential_pages = 16});
  EXPECT_EQ(p->name(), "sequential");
  fake_range r;
  // Second block of the range: pages [512, 1024).
  EXPECT_EQ(expand(*p, 1000, r.block(512, 512, 4 * kib)), pages_between(1001, 1017));
  EXPECT_EQ(expand(*p, 512, r.block(512, 512, 4 * kib)), pages_between(513, 529));
}

TEST(SequentialPrefetch, StopsAtTheBlockEnd) {
  auto p = make_prefetch_policy("sequential", {.sequential_pages = 16});
  fake_range r;
  EXPECT_EQ(expand(*p, 1020, r.block(512, 512, 4 * kib)), (page_list{1021, 1022, 1023}));
  EXPECT_EQ(expand(*p, 1023, r.block(512, 512, 4 * kib)), page_list{});
  // Short last block [512, 612).
  EXPECT_EQ(expand(*p, 605, r.block(512, 100, 4 * kib)), pages_between(606, 612));
}

TEST(SequentialPrefetch, SkipsResidentAndThrashingPagesWithinTheWindow) {
  auto p = make_prefetch_policy("sequential", {.sequential_pages = 8});
  fake_range r;
  r.resident = {1003, 1005, 1009};
  r.thrashing = {1004, 1010};
  // Window 1001..1008: skipped pages are not replaced by pages after the window.
  EXPECT_EQ(expand(*p, 1000, r.block(512, 512, 4 * kib)),
            (page_list{1001, 1002, 1006, 1007, 1008}));
}

TEST(SequentialPrefetch, ZeroPagesAndAppending) {
  fake_range r;
  auto zero = make_prefetch_policy("sequential", {.sequential_pages = 0});
  EXPECT_EQ(expand(*zero, 10, r.block(0, 512, 4 * kib)), page_list{});
  auto two = make_prefetch_policy("sequential", {.sequential_pages = 2});
  page_list out = {3};
  two->expand(10, r.block(0, 512, 4 * kib), out);
  EXPECT_EQ(out, (page_list{3, 11, 12}));
}

TEST(SequentialPrefetch, DefaultIsSixteenPages) {
  auto p = make_prefetch_policy("sequential");
  fake_range r;
  EXPECT_EQ(expand(*p, 0, r.block(0, 512, 4 * kib)), pages_between(1, 17));
}

TEST(PrefetchPolicies, RejectBadBlocks) {
  fake_range r;
  for (const char* name : {"sequential", "tree"}) {
    auto p = make_prefetch_policy(name);
    EXPECT_THROW((void)expand(*p, 511, r.block(512, 512, 4 * kib)), invalid_argument) << name;
    EXPECT_THROW((void)expand(*p, 1024, r.block(512, 512, 4 * kib)), invalid_argument) << name;
    EXPECT_THROW((void)expand(*p, 512, r.block(512, 0, 4 * kib)), invalid_argument) << name;
    block_state no_callbacks{0, 512, 4 * kib, {}, {}};
    EXPECT_THROW((void)expand(*p, 5, no_callbacks), invalid_argument) << name;
  }
}

TEST(PrefetchPolicies, UnknownNameListsTheValidOnes) {
  try {
    (void)make_prefetch_policy("stride");
    FAIL() << "expected uvm::invalid_argument";
  } catch (const invalid_argument& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("stride"), std::string::npos) << what;
    EXPECT_NE(what.find("none, sequential, tree"), std::string::npos) << what;
  }
  EXPECT_EQ(make_prefetch_policy("tree")->name(), "tree");
}

}  // namespace
}  // namespace uvm::detail
