#include "bench/replay/generator.hpp"

#include "bench/replay/heldout_algorithms.hpp"
#include "bench/replay/trace_building.hpp"
#include "host/common/check.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>
#include <numeric>
#include <string>
#include <utility>
#include <vector>

namespace uvm::replay {
namespace {

using detail::kernel_pages;
using detail::rng;
using detail::zipf;

constexpr std::array all_patterns{
    pattern::sequential,    pattern::strided,       pattern::random,        pattern::cyclic,
    pattern::hot_cold,      pattern::ping_pong,     pattern::stencil,       pattern::pagerank,
    pattern::btree,         pattern::merge_sort,    pattern::hash_probe,    pattern::fft2d,
    pattern::phase_change,  pattern::kv_cache,      pattern::grid_bfs,      pattern::uneven_phases,
    pattern::drifting_loop, pattern::shifting_zipf, pattern::stencil_lookup};

// The algorithms of generator.hpp. Each appends `passes` passes to `t`, numbering epochs from
// `epoch`, over a range of `pages` pages.
void stencil(trace& t, std::uint32_t pages, std::uint32_t passes, std::uint32_t& epoch) {
  const std::uint32_t grid = pages / 2;
  const std::uint32_t plane = std::max<std::uint32_t>(1, grid / 64);
  const std::uint32_t planes = grid / plane;
  const std::uint32_t per_kernel = std::max<std::uint32_t>(1, (planes + 7) / 8);
  kernel_pages k;
  for (std::uint32_t step = 0; step < passes; ++step) {
    const std::uint32_t src = (step % 2) * grid;
    const std::uint32_t dst = grid - src;
    for (std::uint32_t z0 = 0; z0 < planes; z0 += per_kernel) {
      const std::uint32_t z1 = std::min(planes, z0 + per_kernel);
      const std::uint32_t lo = z0 == 0 ? 0 : z0 - 1;
      const std::uint32_t hi = std::min(planes, z1 + 1);
      k.read(src + lo * plane, (hi - lo) * plane);
      k.write(dst + z0 * plane, (z1 - z0) * plane);
      k.emit(t, epoch++);
    }
  }
}

void pagerank(trace& t, std::uint32_t pages, std::uint32_t passes, rng& gen, std::uint32_t& epoch) {
  const std::uint32_t ranks = pages / 16;
  const std::uint32_t offsets_at = 0, edges_at = 2 * ranks, rank_at = 14 * ranks;
  const std::uint32_t edges = 12 * ranks;
  const zipf neighbours(ranks, 1.0, gen);  // in-degrees follow a power law
  constexpr std::uint32_t blocks = 16;
  kernel_pages k;
  for (std::uint32_t it = 0; it < passes; ++it) {
    const std::uint32_t rank = rank_at + (it % 2) * ranks;
    const std::uint32_t next = rank_at + ranks - (it % 2) * ranks;
    for (std::uint32_t b = 0; b < blocks; ++b) {
      const std::uint32_t v0 = ranks * b / blocks, v1 = ranks * (b + 1) / blocks;
      k.read(offsets_at + 2 * v0, 2 * (v1 - v0));
      k.read(edges_at + edges * b / blocks, edges * (b + 1) / blocks - edges * b / blocks);
      for (std::uint32_t d = 0; d < ranks; ++d) k.read(rank + neighbours.draw(gen));
      k.write(next + v0, v1 - v0);
      k.emit(t, epoch++);
    }
  }
}

void btree(trace& t, std::uint32_t pages, std::uint32_t passes, rng& gen, std::uint32_t& epoch) {
  constexpr std::uint32_t fanout = 64, lookups = 256;
  // Level sizes from the leaves up, so that every level fits `pages`: leaves L, then
  // ceil(L / 64), ... down to one root; L is the largest that keeps the total within `pages`.
  auto levels_for = [&](std::uint32_t leaves) {
    std::vector<std::uint32_t> sizes{leaves};
    while (sizes.back() > 1) sizes.push_back((sizes.back() + fanout - 1) / fanout);
    std::reverse(sizes.begin(), sizes.end());  // root first
    return sizes;
  };
  std::uint32_t leaves = pages;
  std::vector<std::uint32_t> sizes = levels_for(leaves);
  while (leaves > 1 && std::accumulate(sizes.begin(), sizes.end(), 0ull) > pages) {
    sizes = levels_for(--leaves);
  }
  std::vector<std::uint32_t> first(sizes.size());
  for (std::size_t l = 1; l < sizes.size(); ++l) first[l] = first[l - 1] + sizes[l - 1];
  const std::uint32_t kernels = std::max<std::uint32_t>(1, pages / lookups);
  const zipf keys(leaves, 0.99, gen);  // YCSB's request distribution
  kernel_pages k;
  for (std::uint32_t pass = 0; pass < passes; ++pass) {
    for (std::uint32_t n = 0; n < kernels; ++n) {
      for (std::uint32_t q = 0; q < lookups; ++q) {
        std::uint32_t node = keys.draw(gen);  // index in the leaf level
        for (std::size_t l = sizes.size(); l-- > 0;) {
          k.read(first[l] + node);
          node /= fanout;
        }
      }
      k.emit(t, epoch++);
    }
  }
}

void merge_sort(trace& t, std::uint32_t pages, std::uint32_t passes, std::uint32_t& epoch) {
  const std::uint32_t n = std::max<std::uint32_t>(1, pages / 2);
  kernel_pages k;
  for (std::uint32_t sort = 0; sort < passes; ++sort) {
    std::uint32_t src = 0;
    for (std::uint64_t run = 1; run < n; run *= 2) {
      const std::uint32_t dst = n - src;
      for (std::uint64_t i = 0; i < n; i += 2 * run) {
        const auto count = static_cast<std::uint32_t>(std::min<std::uint64_t>(2 * run, n - i));
        k.read(src + static_cast<std::uint32_t>(i), count);
        k.write(dst + static_cast<std::uint32_t>(i), count);
        k.emit(t, epoch++);
      }
      src = dst;
    }
  }
}

}  // namespace

std::optional<pattern> parse_pattern(std::string_view s) {
  std::string name(s);
  std::replace(name.begin(), name.end(), '-', '_');
  for (const pattern p : all_patterns) {
    if (name == pattern_name(p)) return p;
  }
  return std::nullopt;
}

std::string_view pattern_name(pattern p) noexcept {
  switch (p) {
    case pattern::sequential: return "sequential";
    case pattern::strided: return "strided";
    case pattern::random: return "random";
    case pattern::cyclic: return "cyclic";
    case pattern::hot_cold: return "hot_cold";
    case pattern::ping_pong: return "ping_pong";
    case pattern::stencil: return "stencil";
    case pattern::pagerank: return "pagerank";
    case pattern::btree: return "btree";
    case pattern::merge_sort: return "merge_sort";
    case pattern::hash_probe: return "hash_probe";
    case pattern::fft2d: return "fft2d";
    case pattern::phase_change: return "phase_change";
    case pattern::kv_cache: return "kv_cache";
    case pattern::grid_bfs: return "grid_bfs";
    case pattern::uneven_phases: return "uneven_phases";
    case pattern::drifting_loop: return "drifting_loop";
    case pattern::shifting_zipf: return "shifting_zipf";
    case pattern::stencil_lookup: return "stencil_lookup";
  }
  return "?";
}

std::string_view pattern_names() noexcept {
  return "sequential, strided, random, cyclic, hot_cold, ping_pong, stencil, pagerank, btree, "
         "merge_sort, hash_probe, fft2d, phase_change, kv_cache, grid_bfs, uneven_phases, "
         "drifting_loop, shifting_zipf, stencil_lookup";
}

std::uint32_t cyclic_pages(std::uint32_t budget_pages, double fraction) {
  UVM_EXPECTS(budget_pages > 0, "trace generator: the cyclic pattern needs a budget");
  UVM_EXPECTS(fraction > 0 && std::isfinite(fraction),
              "trace generator: cyclic fraction {} must be positive", fraction);
  const double w = std::round(fraction * budget_pages);
  UVM_EXPECTS(w <= std::numeric_limits<std::uint32_t>::max(),
              "trace generator: a working set of {} pages is too large", w);
  return std::max<std::uint32_t>(1, static_cast<std::uint32_t>(w));
}

namespace {

// Epoch k's kernel runs on device k mod `devices`, and so do its accesses.
void alternate_devices(trace& t, std::uint32_t devices) {
  std::uint32_t epochs = 0;
  std::uint16_t device = 0;
  for (trace_record& r : t.records) {
    if (r.kind == trace_kind::epoch) device = static_cast<std::uint16_t>(epochs++ % devices);
    if (r.kind == trace_kind::epoch || r.kind == trace_kind::device_access) r.device = device;
  }
}

trace generate_one_device(const gen_options& o);

}  // namespace

trace generate(const gen_options& o) {
  UVM_EXPECTS(o.devices >= 1 && o.devices <= uvm::detail::max_devices,
              "trace generator: {} devices; between 1 and {}", o.devices, uvm::detail::max_devices);
  trace t = generate_one_device(o);
  if (o.devices > 1) alternate_devices(t, o.devices);
  return t;
}

namespace {

trace generate_one_device(const gen_options& o) {
  UVM_EXPECTS(o.passes > 0, "trace generator: passes must be at least 1");
  UVM_EXPECTS(o.page_size != 0 && (o.page_size & (o.page_size - 1)) == 0,
              "trace generator: page size {} is not a power of two", o.page_size);
  UVM_EXPECTS(o.write_fraction >= 0 && o.write_fraction <= 1,
              "trace generator: write fraction {} is not within [0, 1]", o.write_fraction);
  const std::uint32_t pages =
      o.kind == pattern::cyclic ? cyclic_pages(o.budget_pages, o.fraction) : o.pages;
  UVM_EXPECTS(pages > 0, "trace generator: pages must be at least 1");
  if (o.kind == pattern::strided)
    UVM_EXPECTS(o.stride > 0, "trace generator: stride must be at least 1");
  if (o.kind == pattern::stencil || o.kind == pattern::merge_sort)
    UVM_EXPECTS(pages >= 2, "trace generator: {} needs at least 2 pages", pattern_name(o.kind));
  if (o.kind == pattern::pagerank)
    UVM_EXPECTS(pages >= 256, "trace generator: pagerank needs at least 256 pages");
  if (o.kind == pattern::hash_probe || o.kind == pattern::fft2d ||
      o.kind == pattern::phase_change || o.kind == pattern::kv_cache ||
      o.kind == pattern::grid_bfs || o.kind == pattern::uneven_phases ||
      o.kind == pattern::drifting_loop || o.kind == pattern::shifting_zipf ||
      o.kind == pattern::stencil_lookup)
    UVM_EXPECTS(pages >= 512, "trace generator: {} needs at least 512 pages", pattern_name(o.kind));
  std::uint32_t hot = 0;
  if (o.kind == pattern::hot_cold) {
    UVM_EXPECTS(o.hot_fraction > 0 && o.hot_fraction < 1,
                "trace generator: hot fraction {} is not within (0, 1)", o.hot_fraction);
    UVM_EXPECTS(o.hot_probability >= 0 && o.hot_probability <= 1,
                "trace generator: hot probability {} is not within [0, 1]", o.hot_probability);
    hot = std::max<std::uint32_t>(1, static_cast<std::uint32_t>(o.hot_fraction * pages));
    UVM_EXPECTS(hot < pages, "trace generator: hot_cold needs at least 2 pages");
  }

  trace t;
  t.page_size = o.page_size;
  t.records.push_back(range_record(0, pages));
  rng gen(o.seed);
  auto dev = [&](std::uint32_t page) {
    const bool write = o.write_fraction > 0 && gen.unit() < o.write_fraction;
    t.records.push_back(device_access(0, page, write));
  };
  std::uint32_t epoch = 0;
  switch (o.kind) {
    case pattern::stencil: stencil(t, pages, o.passes, epoch); return t;
    case pattern::pagerank: pagerank(t, pages, o.passes, gen, epoch); return t;
    case pattern::btree: btree(t, pages, o.passes, gen, epoch); return t;
    case pattern::merge_sort: merge_sort(t, pages, o.passes, epoch); return t;
    case pattern::hash_probe: detail::hash_probe(t, pages, o.passes, gen, epoch); return t;
    case pattern::fft2d: detail::fft2d(t, pages, o.passes, epoch); return t;
    case pattern::phase_change: detail::phase_change(t, pages, o.passes, gen, epoch); return t;
    case pattern::kv_cache: detail::kv_cache(t, pages, o.passes, epoch); return t;
    case pattern::grid_bfs: detail::grid_bfs(t, pages, o.passes, gen, epoch); return t;
    case pattern::uneven_phases: detail::uneven_phases(t, pages, o.passes, gen, epoch); return t;
    case pattern::drifting_loop: detail::drifting_loop(t, pages, o.passes, epoch); return t;
    case pattern::shifting_zipf: detail::shifting_zipf(t, pages, o.passes, gen, epoch); return t;
    case pattern::stencil_lookup: detail::stencil_lookup(t, pages, o.passes, gen, epoch); return t;
    default: break;
  }
  for (std::uint32_t pass = 0; pass < o.passes; ++pass) {
    t.records.push_back(epoch_record(epoch++));
    switch (o.kind) {
      case pattern::sequential:
      case pattern::cyclic:
        for (std::uint32_t p = 0; p < pages; ++p) dev(p);
        break;
      case pattern::strided:
        for (std::uint64_t p = 0; p < pages; p += o.stride) dev(static_cast<std::uint32_t>(p));
        break;
      case pattern::random:
        for (std::uint32_t k = 0; k < pages; ++k) dev(gen.below(pages));
        break;
      case pattern::hot_cold:
        for (std::uint32_t k = 0; k < pages; ++k) {
          dev(gen.unit() < o.hot_probability ? gen.below(hot) : hot + gen.below(pages - hot));
        }
        break;
      case pattern::ping_pong:
        for (std::uint32_t p = 0; p < pages; ++p) t.records.push_back(device_access(0, p, true));
        for (std::uint32_t p = 0; p < pages; ++p) t.records.push_back(cpu_access(0, p, true));
        break;
      default: break;  // the algorithms, above
    }
  }
  return t;
}

}  // namespace

}  // namespace uvm::replay
