#pragma once

// For the cluster's counting tests: every process's count of what it did per page, gathered.

#include <mpi.h>

#include <atomic>
#include <cstdint>
#include <vector>

namespace uvm::detail {

/// Process q's count for page p is element q * mine.size() + p, on every process.
inline std::vector<std::uint64_t> gather_counts(
    const std::vector<std::atomic<std::uint64_t>>& mine) {
  std::vector<std::uint64_t> own(mine.size());
  for (std::size_t p = 0; p < mine.size(); ++p) own[p] = mine[p].load();
  int n = 0;
  MPI_Comm_size(MPI_COMM_WORLD, &n);
  std::vector<std::uint64_t> all(mine.size() * static_cast<std::size_t>(n));
  MPI_Allgather(own.data(), static_cast<int>(own.size()), MPI_UINT64_T, all.data(),
                static_cast<int>(own.size()), MPI_UINT64_T, MPI_COMM_WORLD);
  return all;
}

}  // namespace uvm::detail
