#pragma once

// How the app view's protections are changed: the fault mechanism as the coherence layer sees
// it. The fault sources (host/fault/sources/) implement it and sit above coherence: they catch
// a fault and hand it down to managed_range, which changes protections through this interface
// and queues what moves data on the fault service (host/fault/service/), below it. So a CPU
// fault's path runs downward: source -> coherence -> service and protection. Non-virtual
// interface: the public calls add the checks every implementation needs.

#include "host/memory/access.hpp"

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace uvm::detail {

/// The same bytes of a range in its two views.
struct view_span {
  std::byte* app;      ///< what the application uses
  std::byte* runtime;  ///< always read-write; holds the data a mechanism maps in place
  std::size_t bytes;
};

class view_protection {
 public:
  virtual ~view_protection() = default;

  /// Makes the app view of `v`, which allowed `from`, allow `to` (from == to: re-apply `to`,
  /// assuming nothing about the view). Async-signal-safe.
  /// @return 0, or the errno of the failing call (ENOMEM when the process is out of mappings).
  [[nodiscard]] int protect(const view_span& v, host_access from, host_access to) noexcept {
    return do_protect(v, from, to);
  }

  /// Whether protections are mapping protections (mprotect): each boundary between runs of
  /// different access is a mapping of its own, counted against vm.max_map_count, and the app
  /// view starts inaccessible. A mechanism that maps pages in place has no such cost; its app
  /// view is mapped read-write and attached.
  [[nodiscard]] bool splits_mappings() const noexcept { return do_splits_mappings(); }

  /// Whether faults are caught in a signal handler on the faulting thread (only
  /// async-signal-safe work may be done there), rather than on a thread of the mechanism's own,
  /// which may take locks and wait.
  [[nodiscard]] bool handles_in_signal_handler() const noexcept {
    return do_handles_in_signal_handler();
  }

  /// Starts catching faults on a new app view [app, app + bytes), all of whose pages are
  /// unpopulated. @throws uvm::system_error naming the failing call.
  void attach(std::byte* app, std::size_t bytes) { do_attach(app, bytes); }

  /// @return the mechanism's name, as UVM_FAULT_MECHANISM spells it.
  [[nodiscard]] std::string_view name() const noexcept { return do_name(); }

 private:
  virtual int do_protect(const view_span& v, host_access from, host_access to) noexcept = 0;
  virtual bool do_splits_mappings() const noexcept { return true; }
  virtual bool do_handles_in_signal_handler() const noexcept { return true; }
  virtual void do_attach(std::byte*, std::size_t) {}
  virtual std::string_view do_name() const noexcept = 0;
};

}  // namespace uvm::detail
