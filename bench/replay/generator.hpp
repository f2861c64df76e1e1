#pragma once

// Synthetic traces for uvm-replay: one range (id 0) of `pages` pages, then `passes` passes of a
// pattern, each pass opened by an epoch record (a kernel launch). Deterministic: the same
// options give the same trace on every host (the random patterns use their own splitmix64, not
// <random>'s distributions, whose output is implementation-defined).
//
//  sequential  pages 0, 1, ..., pages-1
//  strided     pages 0, stride, 2*stride, ... (< pages): one page per stride
//  random      `pages` uniformly random pages (with repeats)
//  cyclic      a working set of round(fraction * budget) pages, 0..W-1 in order each pass; the
//              range is the working set (`pages` is ignored)
//  hot_cold    `pages` accesses per pass: with probability hot_probability a uniformly random
//              page of the hot set (the first hot_fraction of the range), else one of the rest
//  ping_pong   a kernel writes every page, then the CPU writes every page (another epoch for
//              the kernel of the next pass): every page bounces host <-> device each pass
//
// Device accesses are writes with probability write_fraction (ping_pong: always writes).

#include "bench/replay/trace_io.hpp"

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace uvm::replay {

enum class pattern { sequential, strided, random, cyclic, hot_cold, ping_pong };

/// "sequential", "strided", "random", "cyclic", "hot_cold" (or "hot-cold"), "ping_pong" (or
/// "ping-pong") -> the pattern; anything else -> nullopt.
[[nodiscard]] std::optional<pattern> parse_pattern(std::string_view s);
[[nodiscard]] std::string_view pattern_name(pattern p) noexcept;
/// "sequential, strided, random, cyclic, hot_cold, ping_pong"
[[nodiscard]] std::string_view pattern_names() noexcept;

struct gen_options {
  pattern kind = pattern::sequential;
  std::uint32_t pages = 4096;  ///< pages in the range (not for cyclic)
  std::uint32_t passes = 1;
  std::uint32_t budget_pages = 0;  ///< cyclic: the budget the working set is sized against
  double fraction = 1.5;           ///< cyclic: working set / budget
  std::uint64_t seed = 1;
  std::uint64_t page_size = 4096;
  std::uint32_t stride = 16;     ///< strided
  double hot_fraction = 0.1;     ///< hot_cold: share of the range that is hot
  double hot_probability = 0.9;  ///< hot_cold: share of accesses that go to the hot set
  double write_fraction = 0.0;   ///< device accesses that are writes
};

/// @throws uvm::invalid_argument for impossible options (0 pages, 0 passes, cyclic without a
/// budget, fractions outside their ranges, a page size that is not a power of two...).
[[nodiscard]] trace generate(const gen_options& o);

/// The working-set size the cyclic pattern uses: round(fraction * budget), at least 1.
[[nodiscard]] std::uint32_t cyclic_pages(std::uint32_t budget_pages, double fraction);

}  // namespace uvm::replay
