#pragma once

// One state word per page, changed only by compare-and-swap. A transition claims a page by
// setting its busy bit, does its work, and publishes the new state; others wait on the word.

#include <uvm/detail/page_word.hpp>

#include <atomic>
#include <cstddef>
#include <ctime>

namespace uvm::detail {

class page_table {
 public:
  /// All pages start unpopulated. The words live in lazily committed anonymous memory, so a
  /// large, sparsely used range costs little.
  explicit page_table(std::size_t pages);
  ~page_table();
  page_table(const page_table&) = delete;
  page_table& operator=(const page_table&) = delete;

  [[nodiscard]] std::size_t size() const noexcept { return size_; }

  [[nodiscard]] page_word load(std::size_t i) const noexcept {
    return words_[i].load(std::memory_order_acquire);
  }

  /// Claims page `i` if its word still equals `expected`, which must not be busy.
  /// @return false, with the current word in `expected`, if the word changed.
  bool try_claim(std::size_t i, page_word& expected) noexcept {
    return words_[i].compare_exchange_strong(expected, expected | busy_bit,
                                             std::memory_order_acq_rel);
  }

  /// Ends the claim on page `i`, leaving it in state `s` with flag bits `set` set and `clear`
  /// cleared, advances its generation, and wakes its waiters.
  void publish(std::size_t i, page_state s, page_word set = 0, page_word clear = 0) noexcept;

  /// Sleeps until page `i` is not busy.
  /// @return false if `deadline` (CLOCK_MONOTONIC) passed first.
  bool wait_until_idle(std::size_t i, const timespec& deadline) noexcept;

  /// Sets or clears an advice bit on pages [first, first + count).
  void set_flag(std::size_t first, std::size_t count, page_word bit, bool on) noexcept;

 private:
  std::atomic<page_word>* words_;
  std::size_t size_;
  std::size_t mapped_bytes_;
};

}  // namespace uvm::detail
