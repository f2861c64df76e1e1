#pragma once

// The emulated device's memory: host memory mapped as a GPU maps its own.
//   - 2 MiB aligned and advised for transparent huge pages, as a GPU maps its memory in large
//     pages: a copy into a frame touched for the first time faults once per 2 MiB, not once per
//     4 KiB page.
//   - NORESERVE: a large budget of frames costs the host nothing until it is touched.
//   - Freed blocks of requests that did not need zeros (frames: every page's data arrives by
//     copy) are kept, a few, process-wide, and handed to the next such request of their size. A
//     GPU's memory is backed when cudaMalloc returns; host memory is zero-filled on its first
//     touch, by whichever thread touches it, which on the fault path is the copy's. A kept block
//     has been touched: a manager made after another one (a test, a benchmark round, a program's
//     phases) copies into frames the way a GPU's engines do. Kept blocks are MADV_FREE: under
//     memory pressure the kernel takes their pages back, and a block reads as zeros or as old data.
//
// Thread-safe.

#include <cstddef>
#include <mutex>
#include <vector>

namespace uvm::detail {

class device_memory {
 public:
  /// How many freed blocks are kept at most; beyond it the oldest is unmapped.
  static constexpr std::size_t max_kept = 4;

  /// The store of this process.
  static device_memory& process();

  device_memory() { kept_.reserve(max_kept); }  // unmap() then never allocates

  struct block {
    void* p = nullptr;
    std::size_t bytes = 0;  ///< rounded up to whole 4 KiB pages
    bool reusable = false;  ///< its contents may be anything: kept when it is unmapped
  };

  /// `bytes` of device memory, 2 MiB aligned: zero-filled if `zeros`, else of unknown contents
  /// (a kept block of the same size, if there is one).
  /// @throws std::system_error if the mapping fails
  block map(std::size_t bytes, bool zeros);
  /// Takes back a block map() returned: a reusable one is kept, the rest unmapped.
  void unmap(const block& b) noexcept;

  /// How many freed blocks are kept now.
  [[nodiscard]] std::size_t kept() const;

 private:
  mutable std::mutex mutex_;
  std::vector<block> kept_;  // oldest first
};

}  // namespace uvm::detail
