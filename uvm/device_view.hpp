#pragma once

/// @file
/// How kernels see managed memory: uvm::device_view<T> (read-write) and
/// uvm::const_device_view<T> (read-only). Trivially copyable; pass them to kernels by value.
/// The same code runs on a GPU and on the emulated device.
///
/// Every access translates its page through the device page table: one cached load per access
/// when the page is resident. A page that is not mapped for the access posts a fault record and
/// waits (with backoff, bounded by the fault timeout) until the runtime has moved the data and
/// published the entry. Streaming loops can translate once per page with page_span().

#include <uvm/detail/access_meter.hpp>
#include <uvm/detail/current_device.hpp>
#include <uvm/detail/device_atomic.hpp>
#include <uvm/detail/device_pte.hpp>
#include <uvm/detail/fault_mailbox.hpp>
#include <uvm/detail/host_device.hpp>

#include <cstddef>
#include <cstdint>
#include <type_traits>

namespace uvm {

namespace detail {

/// Lanes of the calling warp that fault on the same page of the same range, and whether any of
/// them writes: one leader posts for the group (the most intrusive access), the rest only wait.
/// On the emulated device every kernel thread is its own group.
struct fault_group {
  bool leader = true;
  bool write = false;
};

UVM_HOST_DEVICE inline fault_group group_fault(std::uint32_t range_id, std::uint32_t page,
                                               bool write) noexcept {
#if defined(__CUDA_ARCH__)
  const unsigned active = __activemask();
  const unsigned same =
      __match_any_sync(active, (static_cast<unsigned long long>(range_id) << 32) | page);
  unsigned lane;
  asm("mov.u32 %0, %%laneid;" : "=r"(lane));
  return {static_cast<int>(lane) == __ffs(static_cast<int>(same)) - 1,
          __any_sync(same, write) != 0};
#else
  (void)range_id;
  (void)page;
  return {true, write};
#endif
}

UVM_HOST_DEVICE inline std::uint16_t fault_origin() noexcept {
#if defined(__CUDA_ARCH__)
  std::uint32_t sm;
  asm("mov.u32 %0, %%smid;" : "=r"(sm));
  return static_cast<std::uint16_t>(sm);
#else
  return 0;
#endif
}

static_assert(max_devices <= 8, "a peer entry names its device in 3 bits");

/// What one device holds of a range: its page table of the range, its frames, and where its
/// kernels post faults (each device its own ring, as each GPU has its own fault buffer: the
/// ring's claim counter is that device's memory, reached by its own atomics, never a peer's).
struct device_slot {
  device_pte* ptes = nullptr;          ///< the device's page table, one entry per page
  std::byte* frames = nullptr;         ///< the device's frame pool
  fault_mailbox* mailbox = nullptr;    ///< the device's fault ring (host memory)
  mailbox_control* control = nullptr;  ///< its claim counter and error flag (device memory)
};

/// A range as device code sees it: one slot per device of the manager, and the code running on
/// device d translates through slots[d].
struct device_range {
  std::uint32_t devices = 1;  ///< slots in use: the manager's devices
  std::uint32_t range_id = 0;
  device_slot slots[max_devices]{};
  /// The slot of each native device (a CUDA ordinal on a GPU, the worker's device on the
  /// emulated device): no_slot for a device the manager does not drive.
  std::uint8_t slot_of[max_native_devices] = {
      0,       1,       2,       3,       4,       5,       6,       7,
      no_slot, no_slot, no_slot, no_slot, no_slot, no_slot, no_slot, no_slot,
      no_slot, no_slot, no_slot, no_slot, no_slot, no_slot, no_slot, no_slot,
      no_slot, no_slot, no_slot, no_slot, no_slot, no_slot, no_slot, no_slot};
  std::byte* host = nullptr;  ///< device address of the range's host pages (remote pages)
  std::uint64_t bytes = 0;
  std::uint64_t timeout_ns = 0;
  std::uint32_t page_shift = 0;
  /// Nonzero where the manager has a device model: host-run device code counts what each
  /// translation reaches (access_meter.hpp).
  std::uint32_t metered = 0;

  /// The manager's index of the device the caller runs on (0 with one device, no lookup), or
  /// no_slot on a device the manager does not drive.
  UVM_HOST_DEVICE std::uint32_t device_index() const noexcept {
    if (devices == 1) return 0;
    const std::uint32_t native = current_device();
    return native < max_native_devices ? slot_of[native] : no_slot;
  }

  enum class post_result : std::uint8_t { posted, pending_elsewhere, ring_full };

  /// Posts device `d`'s fault record for `page` to its ring unless another lane's is already on
  /// its way (the entry's fault-pending bit, which the host's next publication of the entry
  /// clears), or `force`.
  UVM_HOST_DEVICE post_result post_once(std::uint32_t d, std::uint32_t page,
                                        const fault_record& rec, bool force) const noexcept {
    const device_slot& s = slots[d];
    const device_pte before = fetch_or_device(&s.ptes[page], pte_fault_pending);
    if ((before & pte_fault_pending) != 0 && !force) return post_result::pending_elsewhere;
    if (post_fault(s.control, s.mailbox, rec)) return post_result::posted;
    if ((before & pte_fault_pending) == 0) fetch_and_device(&s.ptes[page], ~pte_fault_pending);
    return post_result::ring_full;
  }

  /// Slow path of device `d`: posts a fault for `page` (once per group of lanes, and once per
  /// page while a record is pending) and waits until its entry allows the access, backing off
  /// from 64 ns to 65 us. @return the entry, or 0 after the fault timeout (the error is
  /// recorded for the host).
  UVM_HOST_DEVICE UVM_NOINLINE device_pte fault(std::uint32_t d, std::uint32_t page,
                                                bool write) const noexcept {
    const device_pte need = write ? (pte_valid | pte_writable) : pte_valid;
    const fault_group g = group_fault(range_id, page, write);
    const fault_record rec{range_id,
                           page,
                           g.write ? device_access::write : device_access::read,
                           fault_origin(),
                           static_cast<std::uint16_t>(d),
                           device_clock_ns()};
    const device_slot& s = slots[d];
    const std::uint64_t start = rec.time_ns;
    std::uint64_t last_try = start;   // this lane's last look at whether to post
    std::uint64_t last_post = start;  // its last record actually posted (or its wait's start)
    bool posted = !g.leader || post_once(d, page, rec, false) != post_result::ring_full;
    std::uint32_t pause = 64;
    for (;;) {
      const device_pte e = load_acquire_device(&s.ptes[page]);
      if ((e & need) == need) return e;
      if ((e & pte_denied) != 0) {
        report_device_error(s.control, device_error::not_attached, range_id, page);
        return 0;
      }
      const std::uint64_t now = device_clock_ns();
      if (now - start > timeout_ns) {
        report_device_error(s.control, device_error::fault_timeout, range_id, page);
        return 0;
      }
      // A record can be lost to a full ring, or served before a racing transition ended: every
      // 2 ms a lane posts again if no record is pending; after 50 ms without one of its own,
      // whatever the bit says (the bound on any path that left it set). The host deduplicates.
      if (!posted || now - last_try > 2'000'000) {
        last_try = now;
        const post_result r = post_once(d, page, rec, now - last_post > 50'000'000);
        posted = r != post_result::ring_full;
        if (r == post_result::posted) last_post = now;
      }
      backoff(pause);
      pause = pause < 65536 ? pause * 2 : pause;
    }
  }

  /// @return the address of byte `offset` for an access of `bytes` (which a device model counts),
  /// or nullptr after a failed fault (or on a device the manager does not drive, reported as
  /// device_error::foreign_device).
  UVM_HOST_DEVICE std::byte* translate(std::uint64_t offset, bool write,
                                       std::uint64_t bytes = 1) const noexcept {
    // One device and no model: no lookup and nothing counted, one compare as with one device
    // before there were several.
    if (devices + metered > 1) return translate_general(offset, write, bytes);
    device_pte e;
    return translate_on(0, offset, write, e);
  }

  /// translate() with a device to look up (several devices) or a device model to tell.
  UVM_HOST_DEVICE std::byte* translate_general(std::uint64_t offset, bool write,
                                               std::uint64_t bytes) const noexcept {
    std::uint32_t d = 0;
    if (devices > 1) {
      d = device_index();
      if (d >= devices) {
        report_device_error(slots[0].control, device_error::foreign_device, range_id,
                            static_cast<std::uint32_t>(offset >> page_shift));
        return nullptr;
      }
    }
    device_pte e;
    std::byte* p = translate_on(d, offset, write, e);
#if !defined(__CUDA_ARCH__)
    if (p != nullptr && metered != 0) meter_access(e, range_id, offset, bytes);
#else
    (void)bytes;
#endif
    return p;
  }

  /// The translation through device `d`'s slot; `e` gets the entry used.
  UVM_HOST_DEVICE std::byte* translate_on(std::uint32_t d, std::uint64_t offset, bool write,
                                          device_pte& e) const noexcept {
    const auto page = static_cast<std::uint32_t>(offset >> page_shift);
    const device_pte need = write ? (pte_valid | pte_writable) : pte_valid;
    const device_slot& s = slots[d];
    e = load_relaxed_device(&s.ptes[page]);  // the fast path: no fence
    if ((e & need) != need) {
      e = fault(d, page, write);
      if (e == 0) return nullptr;
    }
    const device_pte mark = write ? (pte_dirty | pte_accessed) : pte_accessed;
    if ((e & mark) != mark) fetch_or_device(&s.ptes[page], mark);
    std::byte* base = (e & (pte_remote | pte_peer)) == 0
                          ? s.frames + (static_cast<std::uint64_t>(pte_frame(e)) << page_shift)
                          : mapped_base(e, page);
    return base + (offset & ((std::uint64_t{1} << page_shift) - 1));
  }

  /// Where an entry that maps no frame of the caller's device points: the host page (remote) or
  /// another device's frame (peer).
  UVM_HOST_DEVICE std::byte* mapped_base(device_pte e, std::uint32_t page) const noexcept {
    if ((e & pte_remote) != 0) return host + (static_cast<std::uint64_t>(page) << page_shift);
    return slots[pte_peer_device(e)].frames +
           (static_cast<std::uint64_t>(pte_peer_frame(e)) << page_shift);
  }
};

}  // namespace detail

/// @brief A contiguous run of elements inside one page, translated once.
template <class T>
struct page_span {
  T* data = nullptr;      ///< nullptr if the fault failed (see manager::synchronize)
  std::size_t count = 0;  ///< elements from the requested index to the end of its page
};

/// @brief Read-only access to a managed array from device code.
template <class T>
class const_device_view {
  static_assert(std::is_trivially_copyable_v<T>);

 public:
  const_device_view() = default;
  const_device_view(const detail::device_range& r, std::size_t count) : r_(r), count_(count) {}

  [[nodiscard]] UVM_HOST_DEVICE std::size_t size() const noexcept { return count_; }

  /// @return element `i`, or T{} if its page could not be made resident (an error that
  /// manager::synchronize reports).
  [[nodiscard]] UVM_HOST_DEVICE T load(std::size_t i) const noexcept {
    const std::byte* p = r_.translate(i * sizeof(T), false, sizeof(T));
    return p != nullptr ? *reinterpret_cast<const T*>(p) : T{};
  }
  [[nodiscard]] UVM_HOST_DEVICE T operator[](std::size_t i) const noexcept { return load(i); }

  /// @return elements [i, end of i's page) mapped for reading.
  [[nodiscard]] UVM_HOST_DEVICE page_span<const T> span_at(std::size_t i) const noexcept {
    return span_for<const T>(r_, i, count_, false);
  }

 protected:
  template <class U>
  UVM_HOST_DEVICE static page_span<U> span_for(const detail::device_range& r, std::size_t i,
                                               std::size_t count, bool write) noexcept {
    const std::uint64_t offset = i * sizeof(T);
    const std::uint64_t page_end = ((offset >> r.page_shift) + 1) << r.page_shift;
    std::size_t n = static_cast<std::size_t>((page_end - offset) / sizeof(T));
    if (n > count - i) n = count - i;
    std::byte* p = r.translate(offset, write, n * sizeof(T));
    return {p != nullptr ? reinterpret_cast<U*>(p) : nullptr, p != nullptr ? n : 0};
  }

  detail::device_range r_{};
  std::size_t count_ = 0;
};

/// @brief Read-write access to a managed array from device code. Stores set the page's dirty
/// bit, so only pages a kernel wrote are copied back to the host.
template <class T>
class device_view : public const_device_view<T> {
 public:
  using const_device_view<T>::const_device_view;

  /// Stores `v` at `i` (dropped if the page could not be made resident; see synchronize).
  UVM_HOST_DEVICE void store(std::size_t i, const T& v) const noexcept {
    std::byte* p = this->r_.translate(i * sizeof(T), true, sizeof(T));
    if (p != nullptr) *reinterpret_cast<T*>(p) = v;
  }

  /// @return elements [i, end of i's page) mapped for reading and writing.
  [[nodiscard]] UVM_HOST_DEVICE page_span<T> span_at(std::size_t i) const noexcept {
    return this->template span_for<T>(this->r_, i, this->count_, true);
  }

  /// @return a const view of the same elements.
  [[nodiscard]] UVM_HOST_DEVICE const_device_view<T> as_const() const noexcept { return *this; }
};

}  // namespace uvm
