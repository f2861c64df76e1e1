#pragma once

// The device page table of one range, with its host shadow. The host is the only writer of the
// valid, frame, writable and remote bits, so the shadow is what the host reads: no entry is
// ever read from the device on a fault path. Device code sets the dirty and accessed bits; they
// are read in bulk between kernels (refresh_device_bits). Entries are published by the copy
// engine: runs of changed entries are copied from the shadow (pinned host memory) after their
// pages' data on the same stream, so publishing never needs an SM, even while faulting kernels
// occupy them all.
//
// A run being published is read from the shadow when the copy executes, not when it is
// enqueued: its pages must stay claimed until the copy completes (the migrator's chunks hold
// their claims until their event), so that no later change of those entries can overtake it.

#include "host/backend/backend.hpp"
#include "host/migration/table_pool.hpp"

#include <uvm/detail/device_pte.hpp>

#include <cstddef>
#include <functional>

namespace uvm::detail {

class device_page_table {
 public:
  /// A table over `entries` (from a table_pool, which keeps the memory): it allocates and
  /// registers nothing, so a range can get one while kernels run. Its entries must be zero (every
  /// entry invalid) in the device table and the shadow; see clear().
  device_page_table(backend& b, const table_pool::slice& entries) noexcept;
  device_page_table(const device_page_table&) = delete;
  device_page_table& operator=(const device_page_table&) = delete;

  /// Zeroes the shadow and, through the copy engine on `s` (no SM needed, so kernels may run),
  /// the device table. @return false if the copy did not complete within `timeout`.
  [[nodiscard]] bool clear(const stream& s, std::chrono::nanoseconds timeout);

  /// The entries, to give back to their pool once no kernel may use them.
  [[nodiscard]] const table_pool::slice& entries() const noexcept { return entries_; }

  /// The table device code reads.
  [[nodiscard]] device_pte* device() const noexcept { return device_; }
  [[nodiscard]] std::size_t size() const noexcept { return pages_; }

  /// The entry as the host last set it, with device bits as of the last refresh.
  [[nodiscard]] device_pte get(std::size_t page) const noexcept { return shadow_[page]; }
  /// Changes the shadow only; publish() sends it to the device.
  void set(std::size_t page, device_pte e) noexcept { shadow_[page] = e; }

  /// Enqueues the copy of entries [first, first + count) to the device on `s`, as one transfer.
  /// While the table is masked, the entries go out masked (see mask()).
  void publish(std::size_t first, std::size_t count, const stream& s);

  /// Enqueues on `s` the whole table with every entry masked: not valid, not writable, denied
  /// (frame and flag bits kept in the shadow, which does not change), so a kernel's access to
  /// any page of the range reports a device error instead of reaching its frame or its host
  /// page. Until unmask(), publish() sends masked entries too. Refresh the device bits first:
  /// they are overwritten.
  void mask(const stream& s);
  /// Enqueues on `s` the shadow, as it is, over the masked table; publish() sends it as is again.
  void unmask(const stream& s);
  [[nodiscard]] bool masked() const noexcept { return masked_; }

  /// Reads the device table into a bounce buffer on `s` and ORs the dirty and accessed bits of
  /// every entry for which `may_merge(page)` holds into the shadow. Call only while no kernel
  /// runs and no publication of this table is in flight for those pages.
  /// @return false if the copy did not complete within `timeout` (nothing merged).
  [[nodiscard]] bool refresh_device_bits(const stream& s, std::chrono::nanoseconds timeout,
                                         const std::function<bool(std::size_t)>& may_merge);

  /// Whether a kernel may have set device bits since the last refresh (the shadow's dirty and
  /// accessed bits may be behind). The owner sets it at launches and clears it on a refresh.
  [[nodiscard]] bool stale() const noexcept { return stale_; }
  void set_stale(bool s) noexcept { stale_ = s; }

 private:
  backend& backend_;
  table_pool::slice entries_;
  std::size_t pages_;
  device_pte* device_;
  device_pte* shadow_;  // pinned (registered) host memory
  device_pte* bounce_;  // pinned: the device table read back
  device_pte* staged_;  // pinned: masked entries on their way to the device
  bool stale_ = false;
  bool masked_ = false;
};

}  // namespace uvm::detail
