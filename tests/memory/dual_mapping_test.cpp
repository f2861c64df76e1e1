#include "host/memory/dual_mapping.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>

#include <sys/mman.h>

namespace uvm::detail {
namespace {

TEST(DualMapping, BothViewsShowTheSameBytes) {
  dual_mapping m(1 << 20, 1 << 16);
  ASSERT_EQ(mprotect(m.app(), m.size(), PROT_READ | PROT_WRITE), 0);
  m.runtime()[12345] = std::byte{42};
  EXPECT_EQ(m.app()[12345], std::byte{42});
  m.app()[777] = std::byte{7};
  EXPECT_EQ(m.runtime()[777], std::byte{7});
}

TEST(DualMapping, AppViewIsAlignedAndStartsZero) {
  for (std::size_t align : {std::size_t{4096}, std::size_t{1} << 16, std::size_t{2} << 20}) {
    dual_mapping m(4 << 20, align);
    EXPECT_EQ(reinterpret_cast<std::uintptr_t>(m.app()) % align, 0u);
    for (std::size_t i = 0; i < m.size(); i += 4096) ASSERT_EQ(m.runtime()[i], std::byte{0});
  }
}

}  // namespace
}  // namespace uvm::detail
