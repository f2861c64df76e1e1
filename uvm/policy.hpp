#pragma once

/// @file
/// Migration policies an application supplies: which resident page gives up its device frame
/// (uvm::eviction_policy) and which pages move along with a faulting one
/// (uvm::prefetch_policy). The library's own policies (fifo, lru, clock, adaptive, lfu,
/// dueling, arc, lirs; none, sequential, tree) implement the same interfaces, and so does Belady's
/// MIN in the trace replayer: a policy written here runs inside the runtime and in `uvm-replay`.
///
/// Install one through uvm::config (a factory, because each manager needs its own object):
/// @code
/// struct mru final : uvm::eviction_policy { ... };
/// uvm::config cfg;
/// cfg.eviction_policy = [] { return std::make_unique<mru>(); };
/// uvm::manager mgr(cfg);
/// @endcode
/// docs/example/custom_policy.cpp is a complete one.
///
/// The contract: policies only decide. The manager calls them with its lock held, one call at a
/// time (no synchronisation needed inside), from whichever thread is migrating; they must not
/// call back into the manager, block, or take long (they run on the fault path). An exception
/// thrown by a policy fails the migration that asked (its pages stay where they were).

#include <compare>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string_view>
#include <vector>

namespace uvm {

/// @brief A page as policies see it: which range (an id the manager gives each allocation, and
/// may reuse once it is freed) and which page in it.
struct page_ref {
  std::uint32_t range_id = 0;
  std::uint32_t page = 0;
  friend constexpr auto operator<=>(const page_ref&, const page_ref&) = default;
};

/// @brief Hash for unordered containers of page_ref.
struct page_ref_hash {
  std::size_t operator()(const page_ref& p) const noexcept {
    return std::hash<std::uint64_t>{}((std::uint64_t{p.range_id} << 32) | p.page);
  }
};

/// @brief Which device-resident page gives up its frame when a frame is needed.
/// Non-virtual interface: the manager calls the public functions; a policy overrides the
/// private do_* hooks.
class eviction_policy {
 public:
  virtual ~eviction_policy() = default;

  /// `p` just received a frame (it is now resident).
  void on_resident(page_ref p) { do_on_resident(p); }
  /// `p`, resident, was used by a kernel (from the device's accessed bits, read when a kernel
  /// ends; or a record of a trace). May name a page that is not resident: ignore it.
  void on_access(page_ref p) { do_on_access(p); }
  /// `p` lost its frame (evicted, migrated back, its range freed, or pinned): forget it. May
  /// come more than once for a page, or for a page never announced: ignore those.
  void on_released(page_ref p) { do_on_released(p); }
  /// The resident page to evict next, or nothing if no page is resident. Does not forget the
  /// page: the manager evicts it and then calls on_released. Must name a resident page.
  [[nodiscard]] std::optional<page_ref> victim() { return do_victim(); }
  /// Number of resident pages the policy tracks.
  [[nodiscard]] std::size_t size() const noexcept { return do_size(); }
  /// A short name for logs and reports.
  [[nodiscard]] std::string_view name() const noexcept { return do_name(); }
  /// Whether on_access matters: the manager reads the device's accessed bits only if it does.
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

/// @brief What a prefetch policy may ask about the 2 MiB block holding a device fault.
struct block_state {
  std::size_t first_page = 0;  ///< first page of the block (index in the range)
  std::size_t page_count = 0;  ///< pages in the block (fewer at the end of a range)
  std::size_t page_bytes = 0;  ///< the range's page size
  /// True if page `p` (index in the range) is already resident on the device.
  std::function<bool(std::size_t)> resident;
  /// True if page `p` is thrashing: never prefetch it.
  std::function<bool(std::size_t)> thrashing;
};

/// @brief Which other pages move to the device together with a faulting page. Non-virtual
/// interface, as eviction_policy. Prefetch never crosses the 2 MiB block of the fault.
class prefetch_policy {
 public:
  virtual ~prefetch_policy() = default;

  /// Appends to `out` the pages of `block` (indices in the range, each inside the block, none
  /// resident, none thrashing, not `faulting`) to move along with `faulting`, in ascending
  /// order. The faulting page itself is not appended. Pages that break these rules are skipped.
  void expand(std::size_t faulting, const block_state& block, std::vector<std::size_t>& out) {
    do_expand(faulting, block, out);
  }
  /// A short name for logs and reports.
  [[nodiscard]] std::string_view name() const noexcept { return do_name(); }

 private:
  virtual void do_expand(std::size_t faulting, const block_state& block,
                         std::vector<std::size_t>& out) = 0;
  virtual std::string_view do_name() const noexcept = 0;
};

}  // namespace uvm
