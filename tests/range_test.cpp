#include <uvm/uvm.hpp>

#include <gtest/gtest.h>

#include <cstdint>
#include <utility>

namespace {

TEST(Range, SizesAndAlignment) {
  uvm::manager mgr;
  uvm::range r = mgr.allocate(100000);
  EXPECT_EQ(r.size(), 100000u);
  EXPECT_EQ(r.page_size(), mgr.configuration().page_size);
  EXPECT_EQ(r.page_count(), (100000 + r.page_size() - 1) / r.page_size());
  EXPECT_EQ(reinterpret_cast<std::uintptr_t>(r.data()) % r.page_size(), 0u);
  EXPECT_EQ(r.as<std::uint32_t>().size(), 25000u);
}

TEST(Range, MoveTransfersOwnership) {
  uvm::manager mgr;
  uvm::range a = mgr.allocate(1 << 20);
  a.data()[0] = std::byte{1};
  std::byte* p = a.data();
  uvm::range b = std::move(a);
  EXPECT_TRUE(a.empty());
  EXPECT_EQ(a.data(), nullptr);
  EXPECT_EQ(b.data(), p);
  EXPECT_EQ(b.data()[0], std::byte{1});
  uvm::range c = mgr.allocate(1 << 20);
  c = std::move(b);  // frees c's old allocation
  EXPECT_EQ(mgr.stats().live_ranges, 1u);
  EXPECT_EQ(c.data()[0], std::byte{1});
}

TEST(Range, EmptyRangeQueriesAreErrors) {
  uvm::range r;
  EXPECT_FALSE(r);
  EXPECT_EQ(r.size(), 0u);
  EXPECT_THROW((void)r.state_of(nullptr), uvm::invalid_argument);
  EXPECT_THROW(r.advise(uvm::advice::set_read_mostly), uvm::invalid_argument);
  EXPECT_EQ(r.release(), nullptr);
}

TEST(TypedRange, HoldsZeroInitialisedElements) {
  uvm::manager mgr;
  auto v = mgr.allocate<double>(1000);
  EXPECT_EQ(v.size(), 1000u);
  for (double x : v) EXPECT_EQ(x, 0.0);
  v[999] = 2.5;
  EXPECT_EQ(v.span()[999], 2.5);
}

}  // namespace
