#pragma once

// The floor under uvm's userfaultfd fault paths: a bare userfaultfd MINOR fault on a memfd
// mapping whose pages are already in the page cache, served with UFFDIO_CONTINUE by one handler
// thread (or by several polling the same descriptor, as uvm's are), and nothing else.

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace bench {

// Why the floor cannot be measured in this process (no userfaultfd, no MINOR faults on shmem),
// or empty.
[[nodiscard]] std::string raw_uffd_unavailable();

enum class raw_uffd_kind {
  minor,    // the memfd's pages exist: MINOR faults, UFFDIO_CONTINUE
  missing,  // the memfd is empty: MISSING faults, UFFDIO_ZEROPAGE (what a first touch costs)
};

// Maps a fresh memfd region of `pages` pages of `page_size` bytes (populated for `minor`, but not
// mapped in the timed view), then times one 1-byte write to the first byte of each page in order
// (one MINOR fault each, served by `handlers` threads) and appends the latencies in ns to `out`.
// Warns on stderr if a page did not fault once. Throws std::system_error if the memory or the
// descriptor cannot be set up.
void measure_raw_uffd_faults(raw_uffd_kind kind, std::size_t page_size, std::size_t pages,
                             unsigned handlers, std::vector<std::uint64_t>& out);

}  // namespace bench
