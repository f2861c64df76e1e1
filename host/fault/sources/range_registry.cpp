#include "host/fault/sources/range_registry.hpp"

#include <uvm/error.hpp>

#include <new>
#include <thread>

#include <pthread.h>

namespace uvm::detail {

range_registry& range_registry::process() noexcept {
  static range_registry registry;
  // A child of fork() has no managed memory (both views are MADV_DONTFORK): its registry is
  // emptied so that its accesses to managed addresses are stray pointers, as in a CUDA child.
  static const bool forgets_in_child = [] {
    return pthread_atfork(nullptr, nullptr, [] { process().forget_all(); }) == 0;
  }();
  (void)forgets_in_child;
  return registry;
}

void range_registry::forget_all() noexcept {
  // The child has one thread: a writer or handler of the parent that held a slot or the mutex
  // at fork() is gone, so both are reset rather than waited for.
  new (&writers_) std::mutex();
  for (slot& s : slots_) {
    s.target.store(nullptr, std::memory_order_relaxed);
    s.begin.store(0, std::memory_order_relaxed);
    s.end.store(0, std::memory_order_relaxed);
    s.users.store(0, std::memory_order_relaxed);
  }
  high_water_.store(0, std::memory_order_release);
}

void range_registry::add(std::uintptr_t begin, std::uintptr_t end, managed_range* r) {
  std::lock_guard lock(writers_);
  for (std::size_t i = 0; i < capacity; ++i) {
    slot& s = slots_[i];
    if (s.target.load(std::memory_order_relaxed) != nullptr ||
        s.users.load(std::memory_order_acquire) != 0) {
      continue;
    }
    s.begin.store(begin, std::memory_order_relaxed);
    s.end.store(end, std::memory_order_relaxed);
    s.target.store(r, std::memory_order_seq_cst);
    if (i + 1 > high_water_.load(std::memory_order_relaxed)) {
      high_water_.store(i + 1, std::memory_order_release);
    }
    return;
  }
  throw out_of_memory("uvm: the range registry is full (" + std::to_string(capacity) +
                      " live ranges); free a range or allocate larger ones");
}

bool range_registry::remove(managed_range* r, std::chrono::milliseconds timeout) noexcept {
  std::lock_guard lock(writers_);
  const std::size_t hw = high_water_.load(std::memory_order_relaxed);
  for (std::size_t i = 0; i < hw; ++i) {
    slot& s = slots_[i];
    if (s.target.load(std::memory_order_relaxed) != r) continue;
    // seq_cst pairs with find(): either a handler sees the null, or we see its pin.
    s.target.store(nullptr, std::memory_order_seq_cst);
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (s.users.load(std::memory_order_seq_cst) != 0) {
      if (std::chrono::steady_clock::now() > deadline) return false;
      std::this_thread::sleep_for(std::chrono::microseconds(100));
    }
    s.begin.store(0, std::memory_order_relaxed);
    s.end.store(0, std::memory_order_relaxed);
    return true;
  }
  return true;
}

range_registry::pin range_registry::find(const void* addr) noexcept {
  const auto a = reinterpret_cast<std::uintptr_t>(addr);
  const std::size_t hw = high_water_.load(std::memory_order_acquire);
  for (std::size_t i = 0; i < hw; ++i) {
    slot& s = slots_[i];
    if (a < s.begin.load(std::memory_order_relaxed) || a >= s.end.load(std::memory_order_relaxed)) {
      continue;
    }
    // Pin first, then validate: a slot being removed or reused is skipped.
    s.users.fetch_add(1, std::memory_order_seq_cst);
    managed_range* r = s.target.load(std::memory_order_seq_cst);
    if (r != nullptr && a >= s.begin.load(std::memory_order_relaxed) &&
        a < s.end.load(std::memory_order_relaxed)) {
      return pin(&s.users, r);
    }
    s.users.fetch_sub(1, std::memory_order_release);
  }
  return {};
}

std::size_t range_registry::live() const noexcept {
  std::size_t n = 0;
  const std::size_t hw = high_water_.load(std::memory_order_acquire);
  for (std::size_t i = 0; i < hw; ++i) {
    if (slots_[i].target.load(std::memory_order_relaxed) != nullptr) ++n;
  }
  return n;
}

}  // namespace uvm::detail
