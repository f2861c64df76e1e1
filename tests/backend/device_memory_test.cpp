#include "host/backend/emulated/device_memory.hpp"

#include <gtest/gtest.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

namespace uvm::detail {
namespace {

constexpr std::size_t block_bytes = std::size_t{4} << 20;

long minor_faults() {
  rusage u{};
  getrusage(RUSAGE_THREAD, &u);
  return u.ru_minflt;
}

// Page faults taken while writing every 4 KiB page of `b`.
long faults_touching(const device_memory::block& b) {
  const long before = minor_faults();
  auto* p = static_cast<volatile unsigned char*>(b.p);
  for (std::size_t i = 0; i < b.bytes; i += 4096) p[i] = 1;
  return minor_faults() - before;
}

TEST(DeviceMemory, IsAlignedForHugePagesAndRoundedToWholePages) {
  device_memory& m = device_memory::process();
  const device_memory::block b = m.map(block_bytes + 100, true);
  EXPECT_EQ(reinterpret_cast<std::uintptr_t>(b.p) % (std::size_t{2} << 20), 0u);
  EXPECT_EQ(b.bytes, block_bytes + 4096);
  m.unmap(b);
}

// Frames of a manager made after another one's are warm: the block its frames had comes back,
// touched, and a copy into it takes no page fault (a GPU's memory is backed when it is allocated).
TEST(DeviceMemory, AFreedBlockComesBackWarmToTheNextRequestOfItsSizeThatNeedsNoZeros) {
  device_memory& m = device_memory::process();
  const device_memory::block first = m.map(block_bytes, false);
  EXPECT_GT(faults_touching(first), 0) << "fresh memory is backed on its first touch";
  m.unmap(first);
  const device_memory::block again = m.map(block_bytes, false);
  EXPECT_EQ(again.p, first.p);
  EXPECT_EQ(faults_touching(again), 0) << "the kept block was not warm";
  m.unmap(again);
}

TEST(DeviceMemory, MemoryThatMustBeZeroIsNeverAKeptBlock) {
  device_memory& m = device_memory::process();
  const device_memory::block dirty = m.map(block_bytes, false);
  std::memset(dirty.p, 0xab, block_bytes);
  m.unmap(dirty);
  const device_memory::block zeroed = m.map(block_bytes, true);
  EXPECT_NE(zeroed.p, dirty.p);
  const std::vector<unsigned char> zeros(block_bytes, 0);
  EXPECT_EQ(std::memcmp(zeroed.p, zeros.data(), block_bytes), 0);
  m.unmap(zeroed);
}

// Only blocks that may hold anything are kept: freeing a manager's zeroed allocations (page
// tables, control words) after its frames does not push the frames out.
TEST(DeviceMemory, FreeingZeroedBlocksKeepsTheReusableOnes) {
  device_memory& m = device_memory::process();
  const device_memory::block frames = m.map(block_bytes, false);
  m.unmap(frames);
  for (std::size_t i = 0; i < 2 * device_memory::max_kept; ++i) m.unmap(m.map(4096, true));
  const device_memory::block again = m.map(block_bytes, false);
  EXPECT_EQ(again.p, frames.p);
  m.unmap(again);
}

// A child of fork() keeps nothing of its parent's: a parent's thread may have held the store's
// lock at the fork, or been changing its list.
TEST(DeviceMemory, AChildOfForkStartsWithNoBlockKept) {
  device_memory& m = device_memory::process();
  const device_memory::block kept = m.map(block_bytes, false);
  m.unmap(kept);
  ASSERT_GT(m.kept(), 0u);
  const pid_t child = fork();
  ASSERT_NE(child, -1);
  if (child == 0) {
    const bool none = m.kept() == 0;
    const device_memory::block b = m.map(block_bytes, false);
    _exit(none && b.p != kept.p ? 0 : 1);
  }
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "status " << status;
  m.unmap(m.map(block_bytes, false));  // the parent still has it
}

TEST(DeviceMemory, AtMostAFewBlocksAreKept) {
  device_memory& m = device_memory::process();
  std::vector<device_memory::block> blocks;
  for (std::size_t i = 0; i < device_memory::max_kept + 3; ++i) {
    blocks.push_back(m.map(block_bytes + (i + 1) * 4096, false));  // sizes no kept block has
  }
  for (const auto& b : blocks) m.unmap(b);
  EXPECT_EQ(m.kept(), device_memory::max_kept);
  // The newest are kept: the oldest went back to the system.
  const device_memory::block newest = m.map(blocks.back().bytes, false);
  EXPECT_EQ(newest.p, blocks.back().p);
  m.unmap(newest);
}

}  // namespace
}  // namespace uvm::detail
