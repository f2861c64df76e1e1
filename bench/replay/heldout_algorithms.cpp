#include "bench/replay/heldout_algorithms.hpp"

#include <algorithm>
#include <cstdlib>

namespace uvm::replay::detail {

void hash_probe(trace& t, std::uint32_t pages, std::uint32_t passes, rng& gen,
                std::uint32_t& epoch) {
  const std::uint32_t build = std::max<std::uint32_t>(1, pages / 4);
  const std::uint32_t out = std::max<std::uint32_t>(1, pages / 8);
  const std::uint32_t probe_at = build, probe = pages - build - out, out_at = pages - out;
  const zipf buckets(build, 0.9, gen);
  constexpr std::uint32_t kernels = 16;
  kernel_pages k;
  for (std::uint32_t pass = 0; pass < passes; ++pass) {
    for (std::uint32_t b = 0; b < kernels; ++b) {
      const std::uint32_t p0 = probe * b / kernels, p1 = probe * (b + 1) / kernels;
      k.read(probe_at + p0, p1 - p0);
      for (std::uint32_t d = 0; d < build / 2; ++d) k.read(buckets.draw(gen));
      const std::uint32_t o0 = out * b / kernels, o1 = out * (b + 1) / kernels;
      if (o1 > o0) k.write(out_at + o0, o1 - o0);
      k.emit(t, epoch++);
    }
  }
}

void fft2d(trace& t, std::uint32_t pages, std::uint32_t passes, std::uint32_t& epoch) {
  const std::uint32_t half = std::max<std::uint32_t>(1, pages / 2);
  const std::uint32_t rows = std::min<std::uint32_t>(64, half);
  const std::uint32_t cols = half / rows;  // pages per row of the first buffer
  constexpr std::uint32_t band = 8;        // rows per kernel
  kernel_pages k;
  // FFTs on the rows of the buffer at `at`, laid out as `r` rows of `c` pages.
  auto row_ffts = [&](std::uint32_t at, std::uint32_t r, std::uint32_t c) {
    for (std::uint32_t r0 = 0; r0 < r; r0 += band) {
      k.write(at + r0 * c, (std::min(r, r0 + band) - r0) * c);
      k.emit(t, epoch++);
    }
  };
  // Transposes the `r` x `c` buffer at `from` into the `c` x `r` one at `to`, a band of rows a
  // kernel: page (i, j) goes to page (j, i).
  auto transpose = [&](std::uint32_t from, std::uint32_t to, std::uint32_t r, std::uint32_t c) {
    for (std::uint32_t r0 = 0; r0 < r; r0 += band) {
      const std::uint32_t r1 = std::min(r, r0 + band);
      k.read(from + r0 * c, (r1 - r0) * c);
      for (std::uint32_t j = 0; j < c; ++j) k.write(to + j * r + r0, r1 - r0);
      k.emit(t, epoch++);
    }
  };
  for (std::uint32_t pass = 0; pass < passes; ++pass) {
    row_ffts(0, rows, cols);
    transpose(0, half, rows, cols);
    row_ffts(half, cols, rows);
    transpose(half, 0, cols, rows);
  }
}

void phase_change(trace& t, std::uint32_t pages, std::uint32_t passes, rng& gen,
                  std::uint32_t& epoch) {
  const std::uint32_t loop = std::max<std::uint32_t>(1, pages * 5 / 8);
  const std::uint32_t table = std::max<std::uint32_t>(1, pages - loop);
  const zipf rows(table, 1.0, gen);
  constexpr std::uint32_t kernels = 8;
  kernel_pages k;
  std::uint32_t stream = 0;  // where the gather's output goes next, in the loop's pages
  auto sweeps = [&](std::uint32_t n) {
    for (std::uint32_t s = 0; s < n; ++s) {
      for (std::uint32_t b = 0; b < kernels; ++b) {
        const std::uint32_t a = loop * b / kernels, z = loop * (b + 1) / kernels;
        if (z > a) k.write(a, z - a);
        k.emit(t, epoch++);
      }
    }
  };
  for (std::uint32_t pass = 0; pass < passes; ++pass) {
    sweeps(2);
    for (std::uint32_t b = 0; b < 2 * kernels; ++b) {
      for (std::uint32_t d = 0; d < table / 2; ++d) k.read(loop + rows.draw(gen));
      const std::uint32_t n = std::max<std::uint32_t>(1, loop / 32);
      for (std::uint32_t i = 0; i < n; ++i) k.write((stream + i) % loop);
      stream = (stream + n) % loop;
      k.emit(t, epoch++);
    }
  }
  sweeps(2);
}

void kv_cache(trace& t, std::uint32_t pages, std::uint32_t passes, std::uint32_t& epoch) {
  constexpr std::uint32_t layers = 16, sequences = 4, steps = 16;
  const std::uint32_t weights = std::max<std::uint32_t>(1, pages / 4 / layers);  // per layer
  const std::uint32_t slot =
      std::max<std::uint32_t>(1, (pages - weights * layers) / (layers * sequences));
  const std::uint32_t kv_at = weights * layers;
  std::uint32_t length[sequences];
  for (std::uint32_t s = 0; s < sequences; ++s) length[s] = slot * s / sequences;
  kernel_pages k;
  for (std::uint32_t step = 0; step < passes * steps; ++step) {
    for (std::uint32_t s = 0; s < sequences; ++s) length[s] = length[s] == slot ? 1 : length[s] + 1;
    for (std::uint32_t l = 0; l < layers; ++l) {
      k.read(l * weights, weights);
      for (std::uint32_t s = 0; s < sequences; ++s) {
        const std::uint32_t at = kv_at + (l * sequences + s) * slot;
        if (length[s] > 1) k.read(at, length[s] - 1);
        k.write(at + length[s] - 1);
      }
      k.emit(t, epoch++);
    }
  }
}

void grid_bfs(trace& t, std::uint32_t pages, std::uint32_t passes, rng& gen, std::uint32_t& epoch) {
  constexpr std::int64_t side = 128;
  constexpr std::uint32_t levels_per_kernel = 4;
  const std::uint32_t dist = std::max<std::uint32_t>(1, pages / 8);
  const std::uint32_t adjacency = std::max<std::uint32_t>(1, pages - dist);
  auto adjacency_page = [&](std::int64_t v) {
    return dist + static_cast<std::uint32_t>(v * adjacency / (side * side));
  };
  auto dist_page = [&](std::int64_t v) {
    return static_cast<std::uint32_t>(v * dist / (side * side));
  };
  kernel_pages k;
  for (std::uint32_t pass = 0; pass < passes; ++pass) {
    const std::int64_t sx = gen.below(side), sy = gen.below(side);
    const std::int64_t last = std::max(sx, side - 1 - sx) + std::max(sy, side - 1 - sy);
    for (std::int64_t l0 = 0; l0 <= last; l0 += levels_per_kernel) {
      for (std::int64_t l = l0; l < l0 + levels_per_kernel && l <= last; ++l) {
        for (std::int64_t y = std::max<std::int64_t>(0, sy - l);
             y <= std::min<std::int64_t>(side - 1, sy + l); ++y) {
          const std::int64_t dx = l - std::abs(y - sy);
          for (const std::int64_t x : {sx - dx, sx + dx}) {
            if (x < 0 || x >= side || (dx == 0 && x != sx - dx)) continue;
            const std::int64_t v = y * side + x;
            k.read(adjacency_page(v));
            k.write(dist_page(v));  // its neighbours' distances: the same or the next page
            if (y > 0) k.read(dist_page(v - side));
            if (y + 1 < side) k.read(dist_page(v + side));
          }
        }
      }
      k.emit(t, epoch++);
    }
  }
}

namespace {
// One sweep over pages [0, n) in `kernels` kernels, each writing its share.
void sweep(trace& t, kernel_pages& k, std::uint32_t n, std::uint32_t kernels,
           std::uint32_t& epoch) {
  for (std::uint32_t b = 0; b < kernels; ++b) {
    const std::uint32_t a = n * b / kernels, z = n * (b + 1) / kernels;
    if (z > a) k.write(a, z - a);
    k.emit(t, epoch++);
  }
}
}  // namespace

void uneven_phases(trace& t, std::uint32_t pages, std::uint32_t passes, rng& gen,
                   std::uint32_t& epoch) {
  const zipf popular(pages, 0.9, gen);
  const std::uint32_t loop = std::max<std::uint32_t>(1, pages * 5 / 8);
  const std::uint32_t draws = std::max<std::uint32_t>(1, pages / 8);
  kernel_pages k;
  for (std::uint32_t pass = 0; pass < passes; ++pass) {
    for (std::uint32_t b = 0; b < 12; ++b) {
      for (std::uint32_t d = 0; d < draws; ++d) k.read(popular.draw(gen));
      k.emit(t, epoch++);
    }
    sweep(t, k, loop, 4, epoch);
  }
}

void drifting_loop(trace& t, std::uint32_t pages, std::uint32_t passes, std::uint32_t& epoch) {
  const std::uint32_t step = std::max<std::uint32_t>(1, pages / 8);
  const std::uint32_t low = std::max<std::uint32_t>(1, pages / 4);
  kernel_pages k;
  for (std::uint32_t pass = 0; pass < passes; ++pass) {
    for (std::uint32_t n = low; n < pages; n += step) sweep(t, k, n, 4, epoch);
    for (std::uint32_t n = pages; n > low; n -= std::min(step, n - low)) sweep(t, k, n, 4, epoch);
  }
}

void shifting_zipf(trace& t, std::uint32_t pages, std::uint32_t passes, rng& gen,
                   std::uint32_t& epoch) {
  const zipf popular(pages, 0.9, gen);
  const std::uint32_t draws = std::max<std::uint32_t>(1, pages / 8);
  std::uint32_t shift = 0;
  kernel_pages k;
  for (std::uint32_t pass = 0; pass < passes; ++pass) {
    for (std::uint32_t phase = 0; phase < 4; ++phase, shift += pages / 8) {
      for (std::uint32_t b = 0; b < 4; ++b) {
        for (std::uint32_t d = 0; d < draws; ++d) k.read((popular.draw(gen) + shift) % pages);
        k.emit(t, epoch++);
      }
    }
  }
}

void stencil_lookup(trace& t, std::uint32_t pages, std::uint32_t passes, rng& gen,
                    std::uint32_t& epoch) {
  const std::uint32_t table = std::max<std::uint32_t>(1, pages / 16);
  const std::uint32_t grid = pages - table;
  const std::uint32_t draws = std::max<std::uint32_t>(1, table / 4);
  kernel_pages k;
  for (std::uint32_t pass = 0; pass < passes; ++pass) {
    for (std::uint32_t b = 0; b < 8; ++b) {
      const std::uint32_t a = grid * b / 8, z = grid * (b + 1) / 8;
      if (z > a) k.write(table + a, z - a);
      for (std::uint32_t d = 0; d < draws; ++d)
        k.read(static_cast<std::uint32_t>(gen.next() % table));
      k.emit(t, epoch++);
    }
  }
}

}  // namespace uvm::replay::detail
