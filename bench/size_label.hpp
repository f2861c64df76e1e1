#pragma once

// Human-readable byte counts for record names and tables: 4096 -> "4KiB".

#include <cstddef>
#include <string>

namespace bench {

[[nodiscard]] inline std::string size_label(std::size_t bytes) {
  static constexpr const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  std::size_t u = 0;
  // Only exact multiples step up, so the label never rounds.
  while (u + 1 < std::size(units) && bytes != 0 && bytes % 1024 == 0) {
    bytes /= 1024;
    ++u;
  }
  return std::to_string(bytes) + units[u];
}

}  // namespace bench
