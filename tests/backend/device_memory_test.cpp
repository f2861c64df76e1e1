#include "host/backend/emulated/device_memory.hpp"

#include <gtest/gtest.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

#include <sys/resource.h>

namespace uvm::detail {
namespace {

constexpr std::size_t block = std::size_t{4} << 20;

long minor_faults() {
  rusage u{};
  getrusage(RUSAGE_THREAD, &u);
  return u.ru_minflt;
}

// Page faults taken while writing every 4 KiB page of [p, p + bytes).
long faults_touching(void* p, std::size_t bytes) {
  const long before = minor_faults();
  auto* b = static_cast<volatile unsigned char*>(p);
  for (std::size_t i = 0; i < bytes; i += 4096) b[i] = 1;
  return minor_faults() - before;
}

TEST(DeviceMemory, IsAlignedForHugePages) {
  device_memory& m = device_memory::process();
  void* p = m.map(block + 4096, true);
  EXPECT_EQ(reinterpret_cast<std::uintptr_t>(p) % (std::size_t{2} << 20), 0u);
  m.unmap(p, block + 4096);
}

// Frames of a manager made after another one's are warm: the block its frames had comes back,
// touched, and a copy into it takes no page fault (a GPU's memory is backed when it is allocated).
TEST(DeviceMemory, AFreedBlockComesBackWarmToTheNextRequestOfItsSizeThatNeedsNoZeros) {
  device_memory& m = device_memory::process();
  void* first = m.map(block, false);
  EXPECT_GT(faults_touching(first, block), 0) << "fresh memory is backed on its first touch";
  m.unmap(first, block);
  void* again = m.map(block, false);
  EXPECT_EQ(again, first);
  EXPECT_EQ(faults_touching(again, block), 0) << "the kept block was not warm";
  m.unmap(again, block);
}

TEST(DeviceMemory, MemoryThatMustBeZeroIsNeverAKeptBlock) {
  device_memory& m = device_memory::process();
  void* dirty = m.map(block, false);
  std::memset(dirty, 0xab, block);
  m.unmap(dirty, block);
  void* zeroed = m.map(block, true);
  EXPECT_NE(zeroed, dirty);
  const std::vector<unsigned char> zeros(block, 0);
  EXPECT_EQ(std::memcmp(zeroed, zeros.data(), block), 0);
  m.unmap(zeroed, block);
}

TEST(DeviceMemory, AtMostAFewBlocksAreKept) {
  device_memory& m = device_memory::process();
  std::vector<void*> blocks;
  for (std::size_t i = 0; i < device_memory::max_kept + 3; ++i) {
    blocks.push_back(m.map(block + (i + 1) * 4096, true));  // sizes no kept block has
  }
  for (std::size_t i = 0; i < blocks.size(); ++i) m.unmap(blocks[i], block + (i + 1) * 4096);
  EXPECT_EQ(m.kept(), device_memory::max_kept);
  // The newest are kept: the oldest went back to the system.
  void* newest = m.map(block + blocks.size() * 4096, false);
  EXPECT_EQ(newest, blocks.back());
  m.unmap(newest, block + blocks.size() * 4096);
}

}  // namespace
}  // namespace uvm::detail
