#pragma once

/// @file
/// The fault mailbox: a ring of fault records in host memory the device can write (mapped,
/// pinned on a GPU). Device code posts a record and waits on the page-table entry; the host's
/// fault service thread drains records in batches and rings nothing back: publishing the entry
/// is the answer.

#include <uvm/detail/device_atomic.hpp>
#include <uvm/detail/host_device.hpp>

#include <cstdint>

#if !defined(__CUDA_ARCH__)
#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <climits>
#endif

namespace uvm::detail {

enum class device_access : std::uint32_t { read = 0, write = 1 };

/// Why device code gave up on an access. Reported by manager::synchronize as an exception.
enum class device_error : std::uint32_t { none = 0, fault_timeout = 1 };

struct fault_record {
  std::uint32_t range_id;
  std::uint32_t page;
  device_access access;
  std::uint32_t origin;  ///< SM id on a GPU, worker index on the emulated device
  std::uint64_t time_ns;
};

struct fault_mailbox {
  static constexpr std::uint32_t capacity = 4096;

  std::uint32_t head = 0;      ///< records claimed by producers (device)
  std::uint32_t tail = 0;      ///< records consumed (host)
  std::uint32_t doorbell = 0;  ///< bumped after each post; the service thread sleeps on it
  std::uint32_t error = 0;     ///< first device_error, sticky until the host clears it
  std::uint32_t error_range = 0;
  std::uint32_t error_page = 0;
  struct slot {
    std::uint32_t seq;  ///< claim index + 1 once the record is complete
    fault_record record;
  } slots[capacity];
};

/// Rings the doorbell: bumps it and, on the host, wakes the thread sleeping on it.
UVM_HOST_DEVICE inline void ring(fault_mailbox* mb) noexcept {
  fetch_add(&mb->doorbell, 1);
#if !defined(__CUDA_ARCH__)
  syscall(SYS_futex, &mb->doorbell, FUTEX_WAKE | FUTEX_PRIVATE_FLAG, INT_MAX, nullptr, nullptr, 0);
#endif
}

/// Posts a record. @return false if the ring is full (the caller re-posts later).
UVM_HOST_DEVICE inline bool post_fault(fault_mailbox* mb, const fault_record& r) noexcept {
  std::uint32_t h;
  do {
    h = load_acquire(&mb->head);
    if (h - load_acquire(&mb->tail) >= fault_mailbox::capacity) return false;
  } while (!compare_exchange(&mb->head, h, h + 1));
  fault_mailbox::slot& s = mb->slots[h % fault_mailbox::capacity];
  s.record = r;
  store_release(&s.seq, h + 1);
  ring(mb);
  return true;
}

/// Records the first device error; later ones are dropped.
UVM_HOST_DEVICE inline void report_device_error(fault_mailbox* mb, device_error e,
                                                std::uint32_t range_id,
                                                std::uint32_t page) noexcept {
  if (compare_exchange(&mb->error, 0, static_cast<std::uint32_t>(e))) {
    store_release(&mb->error_range, range_id);
    store_release(&mb->error_page, page);
  }
}

}  // namespace uvm::detail
