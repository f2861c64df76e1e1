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

#include "bench/replay/trace_building.hpp"
#include "bench/replay/trace_io.hpp"

#include <cstdint>

namespace uvm::replay::detail {

void uneven_phases(trace& t, std::uint32_t pages, std::uint32_t passes, rng& gen,
                   std::uint32_t& epoch);
void drifting_loop(trace& t, std::uint32_t pages, std::uint32_t passes, std::uint32_t& epoch);

}  // namespace uvm::replay::detail
