#pragma once

/// @file
/// uvm::cluster: managed ranges shared by the processes of an MPI communicator, kept coherent
/// by the same write-invalidate rule as the host and its devices (docs/architecture.md,
/// "Across processes"). Link `uvm::cluster` (built where MPI is found); the program
/// initialises MPI with MPI_THREAD_MULTIPLE.
///
/// @code
/// int provided;
/// MPI_Init_thread(&argc, &argv, MPI_THREAD_MULTIPLE, &provided);
/// uvm::manager mgr;
/// uvm::cluster cl(mgr, MPI_COMM_WORLD);
/// uvm::cluster_range r = cl.allocate(1 << 20);   // collective; every process maps it
/// auto v = r.as<std::uint64_t>();
/// if (cl.rank() == 0) v[0] = 42;                 // a CPU write fault: rank 0 takes the page
/// cl.barrier();
/// assert(v[0] == 42);                            // a read fault elsewhere fetches it
/// r.close();                                     // collective
/// MPI_Finalize();
/// @endcode
///
/// For now a cluster range is for CPU code: kernels, prefetch, advice and pinning refuse its
/// pages (uvm::invalid_argument).

#include <uvm/manager.hpp>

#include <mpi.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

namespace uvm {

/// @brief Which process is a page's home (holds its directory entry, and its data while no
/// process holds it writable).
enum class home_rule : unsigned char {
  block,   ///< runs of ceil(pages / processes) pages: rank 0 the first run, rank 1 the next...
  cyclic,  ///< page p at rank p mod processes
};

/// @brief What one process's part of a cluster range did since it was allocated.
struct cluster_stats {
  std::uint64_t remote_faults = 0;       ///< requests sent to homes (faults served by the cluster)
  std::uint64_t pages_received = 0;      ///< grants that brought a page's data
  std::uint64_t invalidations_sent = 0;  ///< as a home
  std::uint64_t invalidations_received = 0;
  std::uint64_t recalls_sent = 0;  ///< as a home: writable copies called back
  std::uint64_t recalls_received = 0;
  std::uint64_t failures = 0;             ///< requests a home could not serve
  std::vector<std::uint64_t> bytes_to;    ///< by rank, messages included
  std::vector<std::uint64_t> bytes_from;  ///< by rank
};

/// @brief One process's view of a range that every process of the cluster maps, at its own
/// address. Sequentially consistent per page: a write fault invalidates every other copy
/// through the page's home before it proceeds; a read fault fetches a read-only copy.
class cluster_range {
 public:
  cluster_range() noexcept;
  cluster_range(cluster_range&&) noexcept;
  cluster_range& operator=(cluster_range&&) noexcept;
  /// Calls close() if it was not called (collective: every process must destroy its part).
  ~cluster_range();

  /// @return the first byte in this process; nullptr once closed.
  [[nodiscard]] std::byte* data() const noexcept;
  [[nodiscard]] std::size_t size() const noexcept;
  [[nodiscard]] std::size_t page_size() const noexcept;
  [[nodiscard]] std::size_t page_count() const noexcept;
  template <class T>
  [[nodiscard]] std::span<T> as() const noexcept {
    return {reinterpret_cast<T*>(data()), size() / sizeof(T)};
  }
  /// @return the home rank of the page holding `p`.
  /// @throws uvm::invalid_argument if `p` is outside the range.
  [[nodiscard]] int home_of(const void* p) const;
  [[nodiscard]] cluster_stats stats() const;

  /// @brief Collective: once every process has called it, frees the range in this process.
  /// No access may follow, here or elsewhere. A no-op on a closed range.
  /// @throws uvm::timeout if some process does not call it within the manager's fault timeout
  /// (the range then stays until this object is destroyed).
  void close();

 private:
  friend class cluster;
  struct state;
  explicit cluster_range(std::unique_ptr<state> s) noexcept;
  std::unique_ptr<state> state_;
};

/// @brief The processes of an MPI communicator sharing managed ranges.
class cluster {
 public:
  /// @brief `mgr` serves this process's faults; `comm` is duplicated for each range (so the
  /// cluster's messages never match the program's). `mgr` must outlive the ranges.
  /// @throws uvm::invalid_argument if `comm` is MPI_COMM_NULL or MPI was not initialised with
  /// MPI_THREAD_MULTIPLE.
  cluster(manager& mgr, MPI_Comm comm);

  /// @brief Collective: a range of `bytes` (rounded up to whole pages of the manager's page
  /// size), zero-filled, that every process maps. Each page's home follows `homes`.
  /// @throws uvm::invalid_argument on every process if the processes pass different sizes,
  /// rules or page sizes, or a size of 0.
  [[nodiscard]] cluster_range allocate(std::size_t bytes, home_rule homes = home_rule::block);

  /// @brief MPI_Barrier over the cluster's communicator.
  void barrier() const;
  [[nodiscard]] int rank() const noexcept { return rank_; }
  [[nodiscard]] int size() const noexcept { return size_; }

 private:
  manager* mgr_;
  MPI_Comm comm_;
  int rank_ = 0;
  int size_ = 0;
};

}  // namespace uvm
