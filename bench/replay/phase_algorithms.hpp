#pragma once

// Two more held-out patterns for uvm-tracegen, written while the duel was taught to weigh the
// cost of a switch (docs/policies.md, "Issue 23"), so that a change tried against phase_change
// is judged on phases that alternate at other rhythms too. Kernels list their pages once each,
// in page order, as in heldout_algorithms.hpp; `pages` is the footprint.
//
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
// (The last two were added to judge the duel's trial of a switch, and replayed once at the end.)

#include "bench/replay/trace_building.hpp"
#include "bench/replay/trace_io.hpp"

#include <cstdint>

namespace uvm::replay::detail {

void uneven_phases(trace& t, std::uint32_t pages, std::uint32_t passes, rng& gen,
                   std::uint32_t& epoch);
void drifting_loop(trace& t, std::uint32_t pages, std::uint32_t passes, std::uint32_t& epoch);
void shifting_zipf(trace& t, std::uint32_t pages, std::uint32_t passes, rng& gen,
                   std::uint32_t& epoch);
void stencil_lookup(trace& t, std::uint32_t pages, std::uint32_t passes, rng& gen,
                    std::uint32_t& epoch);

}  // namespace uvm::replay::detail
