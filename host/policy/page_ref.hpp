#pragma once

// A page as policies see it: which range (the migrator's range id) and which page in it.

#include <compare>
#include <cstdint>
#include <functional>

namespace uvm::detail {

struct page_ref {
  std::uint32_t range_id = 0;
  std::uint32_t page = 0;
  friend constexpr auto operator<=>(const page_ref&, const page_ref&) = default;
};

struct page_ref_hash {
  std::size_t operator()(const page_ref& p) const noexcept {
    return std::hash<std::uint64_t>{}((std::uint64_t{p.range_id} << 32) | p.page);
  }
};

}  // namespace uvm::detail
