#pragma once

/// @file
/// The fault mailbox: a ring of fault records in host memory the device can write (mapped,
/// pinned on a GPU). Device code posts a record and waits on the page-table entry; the host's
/// fault service thread drains records in batches and rings nothing back: publishing the entry
/// is the answer.
///
/// The words that device threads update atomically among themselves (the claim counter and the
/// error flag) live apart, in device memory (mailbox_control): atomics on mapped host memory are
/// not atomic across a PCIe bus that lacks atomic operations. The host only reads and writes the
/// ring with plain ordered loads and stores.

#include <uvm/detail/device_atomic.hpp>
#include <uvm/detail/host_device.hpp>

#include <cstdint>

namespace uvm::detail {

enum class device_access : std::uint32_t { read = 0, write = 1 };

/// Why device code gave up on an access. Reported by manager::synchronize as an exception.
enum class device_error : std::uint32_t {
  none = 0,
  fault_timeout = 1,   ///< the access was not served within the fault timeout
  not_attached = 2,    ///< no kernel in flight may use the page (attachment, declaration)
  foreign_device = 3,  ///< a kernel ran on a device the range's manager does not drive
};

struct fault_record {
  std::uint32_t range_id;
  std::uint32_t page;
  device_access access;
  std::uint16_t origin;  ///< SM id on a GPU, worker index on the emulated device
  std::uint16_t device;  ///< the device whose kernel faulted, as the manager numbers them
  std::uint64_t time_ns;
};

/// Device memory: written with device atomics only.
struct mailbox_control {
  std::uint32_t head = 0;   ///< records claimed by producers
  std::uint32_t error = 0;  ///< first device_error, sticky until the host clears it
  std::uint32_t error_range = 0;
  std::uint32_t error_page = 0;
};

/// Host memory, mapped for the device.
struct fault_mailbox {
  static constexpr std::uint32_t capacity = 4096;

  std::uint32_t tail = 0;  ///< records consumed (host)
  /// Set after each post, for a host that watches it. Device code cannot wake a sleeping host
  /// thread (a GPU cannot), so the service polls while kernels run; the host's own wakers
  /// (CPU faults, launches, stop) change it and wake the thread.
  std::uint32_t doorbell = 0;
  struct slot {
    std::uint32_t seq;  ///< claim index + 1 once the record is complete
    fault_record record;
  } slots[capacity];
};

/// Rings the doorbell: changes it to `value`, a store and nothing more, on the emulated device
/// as on a GPU (it wakes no host thread).
UVM_HOST_DEVICE inline void ring(fault_mailbox* mb, std::uint32_t value) noexcept {
  store_release(&mb->doorbell, value);
}

/// Posts a record. @return false if the ring is full (the caller re-posts later).
UVM_HOST_DEVICE inline bool post_fault(mailbox_control* c, fault_mailbox* mb,
                                       const fault_record& r) noexcept {
  std::uint32_t h;
  do {
    h = load_acquire(&c->head);
    if (h - load_acquire(&mb->tail) >= fault_mailbox::capacity) return false;
  } while (!compare_exchange(&c->head, h, h + 1));
  fault_mailbox::slot& s = mb->slots[h % fault_mailbox::capacity];
  s.record = r;
  store_release(&s.seq, h + 1);  // the fence before it orders the record's stores
  ring(mb, h + 1);
  return true;
}

/// Records the first device error; later ones are dropped. The code is stored last, so a host
/// that reads it after the kernel sees the page too.
UVM_HOST_DEVICE inline void report_device_error(mailbox_control* c, device_error e,
                                                std::uint32_t range_id,
                                                std::uint32_t page) noexcept {
  if (compare_exchange(&c->error_range, 0, range_id + 1)) {
    store_release(&c->error_page, page);
    store_release(&c->error, static_cast<std::uint32_t>(e));
  }
}

}  // namespace uvm::detail
