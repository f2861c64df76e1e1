#pragma once

// The advice that names a device, per page of a range: the device a page prefers (meaningful
// while its word has preferred_device_bit), the devices that keep it mapped (accessed_by), and
// the device it was last prefetched to (while its word has prefetched_device_bit). The page word
// says whether such advice is set; this says which device. Each field is one atomic byte, so
// advice may change while faults read it (concurrent advice on one page: the last store wins
// per field, as cudaMemAdvise calls from several threads are not ordered either).

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>

namespace uvm::detail {

class page_advice {
 public:
  explicit page_advice(std::size_t pages) : entries_(std::make_unique<entry[]>(pages)) {}

  void prefer(std::size_t first, std::size_t count, std::uint8_t device) noexcept {
    for (std::size_t p = first; p < first + count; ++p) {
      entries_[p].preferred.store(device, std::memory_order_relaxed);
    }
  }
  [[nodiscard]] std::uint8_t preferred(std::size_t page) const noexcept {
    return entries_[page].preferred.load(std::memory_order_relaxed);
  }

  /// Adds (`on`) or removes `device` from the devices that keep pages [first, first + count)
  /// mapped.
  void access_by(std::size_t first, std::size_t count, std::uint8_t device, bool on) noexcept {
    const auto bit = static_cast<std::uint8_t>(1u << device);
    for (std::size_t p = first; p < first + count; ++p) {
      if (on) {
        entries_[p].accessed_by.fetch_or(bit, std::memory_order_relaxed);
      } else {
        entries_[p].accessed_by.fetch_and(static_cast<std::uint8_t>(~bit),
                                          std::memory_order_relaxed);
      }
    }
  }
  /// Bit d: device d keeps the page mapped.
  [[nodiscard]] std::uint8_t accessed_by(std::size_t page) const noexcept {
    return entries_[page].accessed_by.load(std::memory_order_relaxed);
  }

  void prefetched_to(std::size_t first, std::size_t count, std::uint8_t device) noexcept {
    for (std::size_t p = first; p < first + count; ++p) {
      entries_[p].prefetched.store(device, std::memory_order_relaxed);
    }
  }
  [[nodiscard]] std::uint8_t prefetched(std::size_t page) const noexcept {
    return entries_[page].prefetched.load(std::memory_order_relaxed);
  }

 private:
  struct entry {
    std::atomic<std::uint8_t> preferred{0};
    std::atomic<std::uint8_t> accessed_by{0};
    std::atomic<std::uint8_t> prefetched{0};
  };
  std::unique_ptr<entry[]> entries_;
};

}  // namespace uvm::detail
