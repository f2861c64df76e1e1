#pragma once

// The floor under uvm's inline fault paths: the same write faults caught by a bare SIGSEGV
// handler that only mprotects the page, on the same kind of memory (a MAP_SHARED memfd).

#include <cstddef>
#include <cstdint>
#include <vector>

namespace bench {

enum class raw_fault_kind {
  first_touch,  // the region starts PROT_NONE and unpopulated
  upgrade,      // the region starts PROT_READ with every page read once
};

// Maps a fresh region of `pages` pages of `page_size` bytes, then times one 1-byte write to the
// first byte of each page in order (one fault each) and appends the latencies in ns to `out`.
// Installs its SIGSEGV handler only for the timed loop and restores the previous action after,
// so call it while no uvm::manager is alive. Warns on stderr if a page did not fault once.
// Throws std::system_error if the memory cannot be set up.
void measure_raw_faults(raw_fault_kind kind, std::size_t page_size, std::size_t pages,
                        std::vector<std::uint64_t>& out);

}  // namespace bench
