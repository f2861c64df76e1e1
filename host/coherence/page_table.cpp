#include "host/coherence/page_table.hpp"

#include "host/common/check.hpp"
#include "host/common/futex.hpp"

#include <sys/mman.h>

namespace uvm::detail {

page_table::page_table(std::size_t pages) : size_(pages) {
  mapped_bytes_ = pages * sizeof(page_word);
  void* p = mmap(nullptr, mapped_bytes_, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (p == MAP_FAILED) throw_system(fmt::format("mmap of a {}-page table", pages), errno);
  // Zero-filled memory is a valid array of unpopulated words with no flags.
  static_assert(static_cast<page_word>(page_state::unpopulated) == 0);
  words_ = static_cast<std::atomic<page_word>*>(p);
}

page_table::~page_table() {
  munmap(words_, mapped_bytes_);
}

void page_table::publish(std::size_t i, page_state s, page_word set, page_word clear) noexcept {
  std::atomic<page_word>& w = words_[i];
  page_word old = w.load(std::memory_order_relaxed);
  // A CAS loop, not a store: advice bits may change while the page is claimed.
  page_word next;
  do {
    next = ((with_state(old, s) | set) & ~(busy_bit | waiters_bit | clear | generation_mask)) |
           ((old + generation_one) & generation_mask);
  } while (!w.compare_exchange_weak(old, next, std::memory_order_acq_rel));
  if ((old & waiters_bit) != 0) futex_wake_all(w);
}

bool page_table::wait_until_idle(std::size_t i, const timespec& deadline) noexcept {
  std::atomic<page_word>& w = words_[i];
  page_word cur = w.load(std::memory_order_acquire);
  while ((cur & busy_bit) != 0) {
    if ((cur & waiters_bit) == 0 &&
        !w.compare_exchange_weak(cur, cur | waiters_bit, std::memory_order_acq_rel)) {
      continue;  // the word moved; look again
    }
    cur |= waiters_bit;
    if (!futex_wait_until(w, cur, deadline)) return false;
    cur = w.load(std::memory_order_acquire);
  }
  return true;
}

void page_table::set_flag(std::size_t first, std::size_t count, page_word bit, bool on) noexcept {
  for (std::size_t i = first; i < first + count; ++i) {
    if (on) {
      words_[i].fetch_or(bit, std::memory_order_acq_rel);
    } else {
      words_[i].fetch_and(~bit, std::memory_order_acq_rel);
    }
  }
}

}  // namespace uvm::detail
