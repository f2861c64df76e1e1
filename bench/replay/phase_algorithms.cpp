#include "bench/replay/phase_algorithms.hpp"

#include <algorithm>

namespace uvm::replay::detail {

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
