// Runs under mpirun with 2 or 4 processes (tests/CMakeLists.txt). Every test is collective.

#include "host/cluster/cluster_node.hpp"
#include "tests/cluster/held_copies.hpp"
#include "tests/cluster/mpi_counts.hpp"

#include <uvm/error.hpp>

#include <gtest/gtest.h>
#include <mpi.h>

#include <atomic>
#include <cstdint>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

namespace uvm::detail {
namespace {

using namespace std::chrono_literals;

constexpr std::size_t page_bytes = 4096;

int world_rank() {
  int r = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &r);
  return r;
}

int world_size() {
  int n = 0;
  MPI_Comm_size(MPI_COMM_WORLD, &n);
  return n;
}

struct rig {
  explicit rig(std::size_t pages, home_rule homes = home_rule::block,
               std::chrono::nanoseconds timeout = 10s)
      : copies(pages, page_bytes),
        node(MPI_COMM_WORLD,
             {.pages = pages, .page_bytes = page_bytes, .homes = homes, .timeout = timeout},
             copies) {}
  held_copies copies;
  cluster_node node;
};

std::uint64_t& word(std::span<std::byte> page, std::size_t i) {
  return *reinterpret_cast<std::uint64_t*>(page.data() + i * sizeof(std::uint64_t));
}

TEST(ClusterNode, EveryPageHasOneHomeByTheRule) {
  for (const home_rule rule : {home_rule::block, home_rule::cyclic}) {
    std::vector<int> per_rank(4);
    for (std::size_t p = 0; p < 10; ++p)
      ++per_rank[static_cast<std::size_t>(home_of(p, 10, 4, rule))];
    const std::vector<int> want =
        rule == home_rule::block ? std::vector<int>{3, 3, 3, 1} : std::vector<int>{3, 3, 2, 2};
    EXPECT_EQ(per_rank, want);
  }
}

TEST(ClusterNode, AReaderSeesTheLastWriteOfAnotherProcess) {
  const int n = world_size();
  const int me = world_rank();
  rig r(static_cast<std::size_t>(4 * n), home_rule::cyclic);
  // Each rank in turn writes every page; then every rank reads what it wrote.
  for (int writer = 0; writer < n; ++writer) {
    if (me == writer) {
      for (std::size_t p = 0; p < 4u * static_cast<unsigned>(n); ++p) {
        r.copies.with(r.node, p, page_access::write, [&](std::span<std::byte> b) {
          for (std::size_t i = 0; i < page_bytes / 8; ++i)
            word(b, i) = (p << 32) | (i << 8) | writer;
        });
      }
    }
    MPI_Barrier(MPI_COMM_WORLD);
    for (std::size_t p = 0; p < 4u * static_cast<unsigned>(n); ++p) {
      r.copies.with(r.node, p, page_access::read, [&](std::span<std::byte> b) {
        for (std::size_t i = 0; i < page_bytes / 8; i += 97) {
          ASSERT_EQ(word(b, i), (p << 32) | (i << 8) | static_cast<unsigned>(writer))
              << "rank " << me << " page " << p << " word " << i;
        }
      });
    }
    MPI_Barrier(MPI_COMM_WORLD);
  }
  const cluster_node::counts c = r.node.stats();
  EXPECT_GT(c.requests, 0u);
  // Every rank but the writer held a read-only copy of each page when the next writer wrote it.
  if (n > 1) EXPECT_GT(c.invalidations_received + c.recalls_received, 0u);
  r.node.close();
}

// No lost write: every thread of every process increments its own counters and shared ones,
// on pages homed everywhere, while the pages move; every count is exact at the end.
TEST(ClusterNode, CountersIncrementedByEveryThreadOfEveryProcessAreExact) {
  const int n = world_size();
  const int me = world_rank();
  constexpr std::size_t pages = 16;
  constexpr int threads = 4;
  constexpr int increments = 1500;
  rig r(pages);
  // Word 0 of each page: shared by all; word 1 + rank: that rank's own.
  std::vector<std::atomic<std::uint64_t>> mine(pages);
  std::vector<std::thread> workers;
  std::atomic<int> errors{0};
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&, t] {
      std::minstd_rand rng(static_cast<unsigned>(me * 100 + t + 1));
      try {
        for (int k = 0; k < increments; ++k) {
          const std::size_t p = rng() % pages;
          if (rng() % 4 == 0) {
            // A reader: the shared count never runs behind this process's own.
            r.copies.with(r.node, p, page_access::read, [&](std::span<std::byte> b) {
              const auto shared = std::atomic_ref(word(b, 0)).load();
              const auto own = std::atomic_ref(word(b, 1 + static_cast<std::size_t>(me))).load();
              if (shared < own) errors.fetch_add(1);
            });
            continue;
          }
          r.copies.with(r.node, p, page_access::write, [&](std::span<std::byte> b) {
            std::atomic_ref(word(b, 1 + static_cast<std::size_t>(me))).fetch_add(1);
            std::atomic_ref(word(b, 0)).fetch_add(1);
          });
          mine[p].fetch_add(1);
        }
      } catch (const std::exception& e) {
        ADD_FAILURE() << "rank " << me << ": " << e.what();
      }
    });
  }
  for (std::thread& w : workers) w.join();
  EXPECT_EQ(errors.load(), 0);
  const std::vector<std::uint64_t> all = gather_counts(mine);
  for (std::size_t p = 0; p < pages; ++p) {
    r.copies.with(r.node, p, page_access::read, [&](std::span<std::byte> b) {
      std::uint64_t total = 0;
      for (int q = 0; q < n; ++q) {
        const std::uint64_t by_q = all[static_cast<std::size_t>(q) * pages + p];
        total += by_q;
        EXPECT_EQ(word(b, 1 + static_cast<std::size_t>(q)), by_q)
            << "rank " << me << " reads rank " << q << "'s counter of page " << p;
      }
      EXPECT_EQ(word(b, 0), total) << "rank " << me << " reads the shared counter of page " << p;
    });
  }
  MPI_Barrier(MPI_COMM_WORLD);
  r.node.close();
}

TEST(ClusterNode, ProcessesThatDisagreeOnTheRangeAllGetAnError) {
  const std::size_t pages = world_rank() == 0 ? 8 : 16;
  held_copies copies(16, page_bytes);
  try {
    cluster_node node(MPI_COMM_WORLD, {.pages = pages, .page_bytes = page_bytes}, copies);
    FAIL() << "rank " << world_rank() << " accepted a range of " << pages << " pages";
  } catch (const uvm::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("disagree"), std::string::npos) << e.what();
  }
}

TEST(ClusterNode, AnAccessOutsideTheRangeIsRefusedAndLosesNothing) {
  rig r(4);
  EXPECT_THROW(r.node.acquire(4, page_access::read), uvm::invalid_argument);
  EXPECT_THROW(r.node.acquire(0, page_access::none), uvm::invalid_argument);
  r.copies.with(r.node, 0, page_access::write, [](std::span<std::byte>) {});
  MPI_Barrier(MPI_COMM_WORLD);
  r.node.close();
  EXPECT_THROW(r.node.acquire(1, page_access::read), uvm::invalid_argument);
}

// A process that stops answering: the page whose only valid copy it holds is reported lost, by
// its address, within the timeout; nobody hangs.
TEST(ClusterNode, APageWhoseOnlyCopyIsOnASilentProcessIsReportedLost) {
  const int me = world_rank();
  rig r(2 * static_cast<std::size_t>(world_size()), home_rule::block, 400ms);
  // Page 0's home is rank 0; rank 1 takes it writable, then stops answering.
  if (me == 1) {
    r.copies.with(r.node, 0, page_access::write, [](std::span<std::byte> b) { word(b, 0) = 42; });
  }
  MPI_Barrier(MPI_COMM_WORLD);
  if (me == 1) r.node.stall(true);
  MPI_Barrier(MPI_COMM_WORLD);
  if (me == 0) {
    try {
      r.copies.with(r.node, 0, page_access::read, [](std::span<std::byte>) {});
      ADD_FAILURE() << "read a page whose only copy is on a silent process";
    } catch (const uvm::error& e) {
      const std::string what = e.what();
      EXPECT_NE(what.find("lost"), std::string::npos) << what;
      EXPECT_NE(what.find("rank 1"), std::string::npos) << what;
    }
    EXPECT_EQ(r.node.stats().failures, 1u);
  }
  MPI_Barrier(MPI_COMM_WORLD);
  if (me == 1) r.node.stall(false);
  r.node.close();
}

}  // namespace
}  // namespace uvm::detail
