#pragma once

// Wrappers around an application's policies (uvm::config::custom_eviction, custom_prefetch):
// the manager calls its policies deep inside migrations, where an exception would leave a
// move half done. A hook that throws is logged (once) and answered as "no opinion": no victim,
// no pages to prefetch; the pages stay correct, only the policy's advice is lost. A prefetch
// answer is also filtered to what the contract allows (pages of the block, ascending, not the
// faulting one), so a wrong answer cannot move pages outside it.

#include "host/policy/eviction_policy.hpp"
#include "host/policy/prefetch_policy.hpp"

#include <memory>
#include <string>

namespace uvm::detail {

class guarded_eviction final : public eviction_policy {
 public:
  /// @throws uvm::invalid_argument if `inner` is null.
  explicit guarded_eviction(std::unique_ptr<eviction_policy> inner);

 private:
  void do_on_resident(page_ref p) override;
  void do_on_access(page_ref p) override;
  void do_on_released(page_ref p) override;
  std::optional<page_ref> do_victim() override;
  std::size_t do_size() const noexcept override { return inner_->size(); }
  std::string_view do_name() const noexcept override { return inner_->name(); }
  bool do_uses_accesses() const noexcept override { return inner_->uses_accesses(); }
  void failed(const char* hook) noexcept;

  std::unique_ptr<eviction_policy> inner_;
  bool reported_ = false;
};

class guarded_prefetch final : public prefetch_policy {
 public:
  /// @throws uvm::invalid_argument if `inner` is null.
  explicit guarded_prefetch(std::unique_ptr<prefetch_policy> inner);

 private:
  void do_expand(std::size_t faulting, const block_state& block,
                 std::vector<std::size_t>& out) override;
  std::string_view do_name() const noexcept override { return inner_->name(); }

  std::unique_ptr<prefetch_policy> inner_;
  std::vector<std::size_t> answer_;
  bool reported_ = false;
};

}  // namespace uvm::detail
