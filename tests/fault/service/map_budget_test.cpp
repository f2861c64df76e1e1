// The mapping budget: vm.max_map_count is read once, before the signal handler can need it (the
// handler's abort path reports it and must not call fopen, which may allocate).
#include "host/fault/service/map_budget.hpp"

#include <gtest/gtest.h>

#include <dlfcn.h>

#include <atomic>
#include <cstdio>
#include <cstring>

namespace {
std::atomic<int> g_reads{0};
}  // namespace

// Counts the library's opens of the sysctl file; everything else goes to the C library.
extern "C" std::FILE* fopen(const char* path, const char* mode) {
  using fopen_fn = std::FILE* (*)(const char*, const char*);
  static const auto real = reinterpret_cast<fopen_fn>(dlsym(RTLD_NEXT, "fopen"));
  if (std::strstr(path, "max_map_count") != nullptr) g_reads.fetch_add(1);
  return real(path, mode);
}

namespace uvm::detail {
namespace {

TEST(MapBudget, MaxMapCountIsReadOnceAndThenCached) {
  const std::int64_t first = map_budget::process().limit();  // makes the budget
  EXPECT_GT(first, 0);
  const int reads = g_reads.load();
  EXPECT_LE(reads, 1);
  for (int i = 0; i < 10; ++i) EXPECT_EQ(map_budget::max_map_count(), map_budget::max_map_count());
  EXPECT_EQ(g_reads.load(), reads) << "max_map_count() opened the sysctl again";
}

TEST(MapBudget, ChargesStayWithinTheLimit) {
  map_budget& b = map_budget::process();
  const std::int64_t limit = b.limit();
  b.set_limit(b.used() + 10);
  EXPECT_TRUE(b.try_charge(10));
  EXPECT_FALSE(b.try_charge(1));
  EXPECT_TRUE(b.try_charge(-10));
  b.set_limit(limit);
}

}  // namespace
}  // namespace uvm::detail
