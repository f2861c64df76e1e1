#pragma once

// More algorithms for uvm-tracegen, written to judge eviction policies on patterns that no policy
// was tuned on (docs/policies.md keeps their results apart, measured once at the end of a change).
// Each stresses recency, frequency and loop detection in its own mix; as for the others, every
// kernel is an epoch listing the pages it uses once each, in page order, and a pass is one run
// of the algorithm. `pages` is the footprint.
//
//  hash_probe    a hash join's probe phase: the build table (1/4 of the pages) gathered with
//                Zipf (0.9) popularity by kernels that stream the probe side (5/8) and write
//                their output (1/8); 16 kernels a pass. Scans pollute recency; the hot buckets
//                want frequency.
//  fft2d         a 2D FFT on a 64-row matrix of pages with transposes between two buffers: row
//                FFTs in place, a transpose into the other buffer (strided writes), FFTs on its
//                rows, a transpose back. A loop over the footprint with two visiting orders.
//  phase_change  a loop over 5/8 of the pages (two sweeps, 8 kernels each), then a Zipf (1.0)
//                gather over the other 3/8 whose kernels also write a stream into the loop's
//                pages, then the loop again: each pass changes phase twice.
//  kv_cache      LLM decoding: 16 layers, each kernel reads its layer's weights (1/4 of the
//                pages in all) and the key/value pages of 4 sequences so far, and appends one
//                page to each; a sequence that reaches its slot's length starts over (the next
//                request). 16 decode steps a pass, the sequences' starts staggered.
//  grid_bfs      breadth-first search on a 128 x 128 grid graph (a road-network shape) from a
//                random source each pass: kernels of 4 levels read the adjacency (7/8 of the
//                pages, row-major) of a diamond-shaped frontier and read and write distances
//                (1/8). Recency within a search, a loop larger than the device across them.
// Four more, written later (docs/policies.md, "A faster election for the duel"), so that a duel
// that weighs the cost of a switch is judged on phases that change at other rhythms than
// phase_change's too:
//  uneven_phases  a long phase of Zipf (0.9) gathers over all the pages (12 kernels of pages/8
//                 draws) and a short one, one sweep over the first 5/8 of the pages (4 kernels
//                 that read and write): frequency most of the time, a loop now and then.
//  drifting_loop  sweeps over the first n pages, n going from pages/4 up to all of them and
//                 back by pages/8 each sweep (one pass is one such round trip, 4 kernels a
//                 sweep): a loop that fits the device for some sweeps and not for others.
//  shifting_zipf  Zipf (0.9) gathers (4 kernels of pages/8 draws a phase) whose hot pages move
//                 by pages/8 each phase: skewed popularity that does not stay put.
//  stencil_lookup a sweep over all but the first pages/16 (8 kernels that read and write), each
//                 kernel also reading pages/64 uniform draws from a lookup table in those
//                 first pages/16: a loop with a small hot set beside it.

#include "bench/replay/trace_building.hpp"
#include "bench/replay/trace_io.hpp"

#include <cstdint>

namespace uvm::replay::detail {

void hash_probe(trace& t, std::uint32_t pages, std::uint32_t passes, rng& gen,
                std::uint32_t& epoch);
void fft2d(trace& t, std::uint32_t pages, std::uint32_t passes, std::uint32_t& epoch);
void phase_change(trace& t, std::uint32_t pages, std::uint32_t passes, rng& gen,
                  std::uint32_t& epoch);
void kv_cache(trace& t, std::uint32_t pages, std::uint32_t passes, std::uint32_t& epoch);
void grid_bfs(trace& t, std::uint32_t pages, std::uint32_t passes, rng& gen, std::uint32_t& epoch);
void uneven_phases(trace& t, std::uint32_t pages, std::uint32_t passes, rng& gen,
                   std::uint32_t& epoch);
void drifting_loop(trace& t, std::uint32_t pages, std::uint32_t passes, std::uint32_t& epoch);
void shifting_zipf(trace& t, std::uint32_t pages, std::uint32_t passes, rng& gen,
                   std::uint32_t& epoch);
void stencil_lookup(trace& t, std::uint32_t pages, std::uint32_t passes, rng& gen,
                    std::uint32_t& epoch);

}  // namespace uvm::replay::detail
