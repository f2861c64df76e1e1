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
//
// Algorithms that the workloads suite does not run, as the runtime would record them: every
// kernel an epoch whose pages are listed once each, in page order (the device's accessed bits),
// reads and writes as the algorithm does them (write_fraction is not used). A pass is one time
// step, iteration, batch or sort; `pages` is the footprint.
//  stencil     a 3D 7-point stencil on two grids of pages/2 pages (64 planes each), swapped
//              every step: 8 kernels a step, each over a slab of planes, reading them and one
//              neighbouring plane each side in the source grid and writing them in the other
//  pagerank    pull PageRank on a power-law graph: offsets (2/16 of the pages), edges (12/16),
//              ranks (1/16) and next ranks (1/16); 16 kernels an iteration over blocks of
//              vertices, each reading its offsets and edges and the rank pages of its
//              neighbours (as many draws as rank pages, Zipf-distributed with exponent 1 over
//              pages in a fixed shuffled order) and writing its next ranks; ranks and next swap
//  btree       lookups in a B-tree of `pages` pages, fanout 64: kernels of 256 lookups, each
//              reading one page per level, root to a leaf drawn as YCSB draws keys (Zipf,
//              exponent 0.99, leaves in a fixed shuffled order); pages/256 kernels a pass
//  merge_sort  a bottom-up merge sort between two arrays of pages/2 pages: each merge pass is
//              one kernel per pair of runs, reading both runs and writing their merge into the
//              other array, runs doubling from one page until one run holds everything
// and hash_probe, fft2d, phase_change, kv_cache, grid_bfs, uneven_phases, drifting_loop,
// shifting_zipf and stencil_lookup: see heldout_algorithms.hpp.

#include "bench/replay/trace_io.hpp"

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace uvm::replay {

enum class pattern {
  sequential,
  strided,
  random,
  cyclic,
  hot_cold,
  ping_pong,
  stencil,
  pagerank,
  btree,
  merge_sort,
  hash_probe,  ///< heldout_algorithms.hpp, as are the eight below
  fft2d,
  phase_change,
  kv_cache,
  grid_bfs,
  uneven_phases,
  drifting_loop,
  shifting_zipf,
  stencil_lookup
};

/// A pattern's name as pattern_name() spells it (or with '-' for '_': "hot-cold") -> the
/// pattern; anything else -> nullopt.
[[nodiscard]] std::optional<pattern> parse_pattern(std::string_view s);
[[nodiscard]] std::string_view pattern_name(pattern p) noexcept;
/// Every pattern's name, comma-separated.
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
  /// Devices the kernels run on, 1 to 8: epoch k's kernel (and its accesses) on device
  /// k mod devices, so each kernel takes over the pages the previous one used (a pipeline of
  /// devices).
  std::uint32_t devices = 1;
};

/// @throws uvm::invalid_argument for impossible options (0 pages, 0 passes, cyclic without a
/// budget, fractions outside their ranges, a page size that is not a power of two...).
[[nodiscard]] trace generate(const gen_options& o);

/// The working-set size the cyclic pattern uses: round(fraction * budget), at least 1.
[[nodiscard]] std::uint32_t cyclic_pages(std::uint32_t budget_pages, double fraction);

}  // namespace uvm::replay
