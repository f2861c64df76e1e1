// uvm::cluster through its public header, with real CPU faults. Runs under mpirun with 2 and
// 4 processes, under each fault mechanism (tests/CMakeLists.txt). Every test is collective.

#include <uvm/cluster.hpp>

#include <uvm/error.hpp>
#include <uvm/uvm.hpp>
#include "tests/cluster/mpi_counts.hpp"

#include <gtest/gtest.h>
#include <mpi.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <numeric>
#include <random>
#include <string>
#include <thread>
#include <vector>

namespace {

int world_rank() {
  int r = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &r);
  return r;
}

uvm::config small_pages() {
  uvm::config cfg = uvm::config::from_env();
  cfg.page_size = 4096;
  return cfg;
}

TEST(Cluster, EveryProcessReadsWhatEveryOtherWrote) {
  uvm::manager mgr(small_pages());
  uvm::cluster cl(mgr, MPI_COMM_WORLD);
  const int n = cl.size();
  const int me = cl.rank();
  constexpr std::size_t pages = 24;
  uvm::cluster_range r = cl.allocate(pages * 4096, uvm::home_rule::cyclic);
  ASSERT_EQ(r.page_count(), pages);
  auto v = r.as<std::uint64_t>();
  const std::size_t per_page = 4096 / sizeof(std::uint64_t);
  // Fresh memory reads as zero everywhere.
  for (std::size_t p = 0; p < pages; ++p) ASSERT_EQ(v[p * per_page + 7], 0u) << "page " << p;
  cl.barrier();
  // Each process writes its own word of every page: every page is write-shared by all.
  for (std::size_t p = 0; p < pages; ++p) {
    v[p * per_page + static_cast<std::size_t>(me)] = (p << 16) | static_cast<unsigned>(me) + 1;
  }
  cl.barrier();
  for (std::size_t p = 0; p < pages; ++p) {
    for (int q = 0; q < n; ++q) {
      EXPECT_EQ(v[p * per_page + static_cast<std::size_t>(q)],
                (p << 16) | static_cast<unsigned>(q) + 1)
          << "rank " << me << " reads rank " << q << "'s word of page " << p;
    }
  }
  const uvm::cluster_stats s = r.stats();
  EXPECT_GT(s.remote_faults, 0u);
  EXPECT_EQ(s.failures, 0u);
  EXPECT_EQ(s.bytes_to.size(), static_cast<std::size_t>(n));
  if (n > 1) {
    EXPECT_GT(std::accumulate(s.bytes_from.begin(), s.bytes_from.end(), std::uint64_t{0}), 4096u);
  }
  cl.barrier();
  r.close();
  EXPECT_EQ(r.data(), nullptr);
}

// No lost write: every thread of every process increments its own counters and shared ones in
// one range while the pages move between the processes; every count is exact at the end.
TEST(Cluster, CountersIncrementedByEveryThreadOfEveryProcessAreExact) {
  uvm::manager mgr(small_pages());
  uvm::cluster cl(mgr, MPI_COMM_WORLD);
  const int n = cl.size();
  const int me = cl.rank();
  constexpr std::size_t pages = 8;
  constexpr int threads = 3;
  // Longer on demand, as the stress tests: UVM_STRESS_SECONDS set means a long run.
  const int increments = std::getenv("UVM_STRESS_SECONDS") != nullptr ? 50000 : 2000;
  uvm::cluster_range r = cl.allocate(pages * 4096);
  auto v = r.as<std::uint64_t>();
  const std::size_t per_page = 4096 / sizeof(std::uint64_t);
  // Word 0 of a page: shared by every thread of every process; word 1 + rank: that rank's.
  std::vector<std::atomic<std::uint64_t>> mine(pages);
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&, t] {
      std::minstd_rand rng(static_cast<unsigned>(me * 131 + t + 1));
      for (int k = 0; k < increments; ++k) {
        const std::size_t p = rng() % pages;
        std::atomic_ref(v[p * per_page + 1 + static_cast<std::size_t>(me)]).fetch_add(1);
        std::atomic_ref(v[p * per_page]).fetch_add(1);
        mine[p].fetch_add(1);
      }
    });
  }
  for (std::thread& w : workers) w.join();
  const std::vector<std::uint64_t> all = uvm::detail::gather_counts(mine);
  for (std::size_t p = 0; p < pages; ++p) {
    std::uint64_t total = 0;
    for (int q = 0; q < n; ++q) {
      const std::uint64_t by_q = all[static_cast<std::size_t>(q) * pages + p];
      total += by_q;
      EXPECT_EQ(v[p * per_page + 1 + static_cast<std::size_t>(q)], by_q)
          << "rank " << me << " reads rank " << q << "'s counter of page " << p;
    }
    EXPECT_EQ(v[p * per_page], total) << "rank " << me << " reads the shared counter of page " << p;
  }
  // The pages did move: writable copies were recalled from processes while they counted.
  std::uint64_t recalled = r.stats().recalls_received;
  std::uint64_t all_recalled = 0;
  MPI_Allreduce(&recalled, &all_recalled, 1, MPI_UINT64_T, MPI_SUM, MPI_COMM_WORLD);
  if (n > 1) EXPECT_GT(all_recalled, pages);
  if (me == 0)
    std::printf("pages recalled from a process: %llu\n",
                static_cast<unsigned long long>(all_recalled));
  cl.barrier();
  r.close();
}

TEST(Cluster, ProcessesThatDisagreeOnTheSizeAllGetAnError) {
  uvm::manager mgr(small_pages());
  uvm::cluster cl(mgr, MPI_COMM_WORLD);
  const std::size_t bytes = world_rank() == 0 ? 8192 : 4096;
  try {
    uvm::cluster_range r = cl.allocate(bytes);
    ADD_FAILURE() << "rank " << world_rank() << " allocated " << bytes << " bytes";
  } catch (const uvm::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("disagree"), std::string::npos) << e.what();
  }
  // Nothing is lost: the next collective allocation works.
  uvm::cluster_range r = cl.allocate(4096);
  EXPECT_EQ(r.page_count(), 1u);
  r.close();
}

TEST(Cluster, DeviceWorkAndAdviceAreRefusedOnAClusterRange) {
  uvm::manager mgr(small_pages());
  uvm::cluster cl(mgr, MPI_COMM_WORLD);
  uvm::cluster_range r = cl.allocate(2 * 4096);
  EXPECT_THROW(mgr.prefetch(r.data(), 4096, uvm::location::device()), uvm::invalid_argument);
  EXPECT_THROW(mgr.advise(r.data(), 4096, uvm::advice::set_read_mostly), uvm::invalid_argument);
  EXPECT_THROW(mgr.pin_resident(r.data(), 4096, uvm::location::host()), uvm::invalid_argument);
  EXPECT_THROW((void)r.home_of(r.data() + 2 * 4096), uvm::invalid_argument);
  EXPECT_EQ(r.home_of(r.data()), 0);
  // The range still works after the refusals.
  r.as<int>()[0] = world_rank();
  cl.barrier();
  r.close();
}

// A range freed on one process while the others still use it: that process's close() ends in
// a clear error within the timeout (the others keep being served meanwhile), and the others
// still close once they are done.
TEST(Cluster, AProcessThatClosesWhileOthersStillUseTheRangeGetsATimeout) {
  uvm::config cfg = small_pages();
  cfg.fault_timeout = std::chrono::milliseconds(800);
  uvm::manager mgr(cfg);
  uvm::cluster cl(mgr, MPI_COMM_WORLD);
  const int n = cl.size();
  uvm::cluster_range r = cl.allocate(static_cast<std::size_t>(n) * 4096, uvm::home_rule::cyclic);
  auto v = r.as<std::uint64_t>();
  const std::size_t per_page = 4096 / sizeof(std::uint64_t);
  if (cl.rank() == 0) {
    EXPECT_THROW(r.close(), uvm::timeout);
  } else {
    // Rank 0 has started closing; its pages are still served.
    v[0 * per_page + static_cast<std::size_t>(cl.rank())] = 7;
    EXPECT_EQ(v[0 * per_page + static_cast<std::size_t>(cl.rank())], 7u);
  }
  MPI_Barrier(MPI_COMM_WORLD);  // rank 0's close has timed out
  if (cl.rank() != 0) r.close();
  // Rank 0's range goes with its destructor, now that every process has closed.
}

TEST(Cluster, AClusterNeedsACommunicator) {
  uvm::manager mgr(small_pages());
  EXPECT_THROW(uvm::cluster(mgr, MPI_COMM_NULL), uvm::invalid_argument);
}

}  // namespace
