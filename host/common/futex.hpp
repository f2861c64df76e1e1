#pragma once

// Sleeping on a 32-bit atomic word with a deadline. Both calls are plain system calls and are
// async-signal-safe.

#include <atomic>
#include <cerrno>
#include <climits>
#include <cstdint>
#include <ctime>

#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace uvm::detail {

static_assert(sizeof(std::atomic<std::uint32_t>) == sizeof(std::uint32_t) &&
              std::atomic<std::uint32_t>::is_always_lock_free);

/// Sleeps while `word` holds `expected`, until woken or the CLOCK_MONOTONIC `deadline`.
/// @return false if the deadline passed; true otherwise (woken, value changed, or interrupted:
/// callers re-check their condition in a loop).
inline bool futex_wait_until(std::atomic<std::uint32_t>& word, std::uint32_t expected,
                             const timespec& deadline) noexcept {
  const long r = syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(&word),
                         FUTEX_WAIT_BITSET | FUTEX_PRIVATE_FLAG, expected, &deadline, nullptr,
                         FUTEX_BITSET_MATCH_ANY);
  return !(r == -1 && errno == ETIMEDOUT);
}

inline void futex_wake_all(std::atomic<std::uint32_t>& word) noexcept {
  syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(&word), FUTEX_WAKE | FUTEX_PRIVATE_FLAG,
          INT_MAX, nullptr, nullptr, 0);
}

}  // namespace uvm::detail
