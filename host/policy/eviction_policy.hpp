#pragma once

// Which device-resident page gives up its frame when a frame is needed. Non-virtual interface:
// the public calls are what the migration engine and the trace replayer call; implementations
// override the do_* hooks. Policies only decide: they never move data or touch page tables, so
// the same objects run inside the runtime and inside uvm-replay, deterministically.

#include "host/policy/page_ref.hpp"

#include <cstddef>
#include <memory>
#include <optional>
#include <string_view>

namespace uvm::detail {

class eviction_policy {
 public:
  virtual ~eviction_policy() = default;

  /// `p` just received a frame (it is now resident).
  void on_resident(page_ref p) { do_on_resident(p); }
  /// `p`, resident, was accessed by the device (from the accessed bit, or a trace event).
  void on_access(page_ref p) { do_on_access(p); }
  /// `p` lost its frame (evicted, migrated back, or its range freed): forget it.
  void on_released(page_ref p) { do_on_released(p); }
  /// The resident page to evict next, or nothing if no page is resident. Does not forget the
  /// page: the caller evicts it and then calls on_released.
  [[nodiscard]] std::optional<page_ref> victim() { return do_victim(); }
  /// Number of resident pages the policy tracks.
  [[nodiscard]] std::size_t size() const noexcept { return do_size(); }
  /// "fifo", "lru", "clock", ...
  [[nodiscard]] std::string_view name() const noexcept { return do_name(); }
  /// Whether on_access matters: the runtime collects device accessed bits only if it does.
  [[nodiscard]] bool uses_accesses() const noexcept { return do_uses_accesses(); }

 private:
  virtual void do_on_resident(page_ref p) = 0;
  virtual void do_on_access(page_ref p) = 0;
  virtual void do_on_released(page_ref p) = 0;
  virtual std::optional<page_ref> do_victim() = 0;
  virtual std::size_t do_size() const noexcept = 0;
  virtual std::string_view do_name() const noexcept = 0;
  virtual bool do_uses_accesses() const noexcept { return true; }
};

/// @return the policy called `name` ("fifo", "lru", "clock" or "adaptive").
/// @throws uvm::invalid_argument listing the names for any other.
[[nodiscard]] std::unique_ptr<eviction_policy> make_eviction_policy(std::string_view name);

}  // namespace uvm::detail
