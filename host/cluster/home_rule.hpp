#pragma once

// Which process is a page's home: the one that holds its directory entry and, while no process
// holds the page exclusively, its valid data.

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace uvm::detail {

enum class home_rule : std::uint8_t {
  block,   ///< contiguous runs of ceil(pages / ranks) pages: rank 0 the first run, and so on
  cyclic,  ///< page p at rank p mod ranks
};

/// The home rank of `page` of a range of `pages` pages shared by `ranks` processes.
[[nodiscard]] constexpr int home_of(std::size_t page, std::size_t pages, int ranks,
                                    home_rule rule) noexcept {
  const auto n = static_cast<std::size_t>(ranks);
  if (rule == home_rule::cyclic) return static_cast<int>(page % n);
  const std::size_t run = (pages + n - 1) / n;
  return static_cast<int>(page / (run == 0 ? 1 : run));
}

[[nodiscard]] constexpr std::string_view to_string(home_rule r) noexcept {
  return r == home_rule::block ? "block" : "cyclic";
}

}  // namespace uvm::detail
