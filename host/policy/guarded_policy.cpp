#include "host/policy/guarded_policy.hpp"

#include "host/common/check.hpp"
#include "host/telemetry/log.hpp"

#include <exception>

namespace uvm::detail {

namespace {
void report(bool& reported, std::string_view policy, const char* hook) noexcept {
  if (reported) return;
  reported = true;
  try {
    std::string what = "unknown exception";
    try {
      throw;
    } catch (const std::exception& e) {
      what = e.what();
    } catch (...) {
    }
    log().error(
        "custom policy '{}': {} threw ({}); its advice is ignored where it throws "
        "(reported once)",
        policy, hook, what);
  } catch (...) {
  }
}
}  // namespace

guarded_eviction::guarded_eviction(std::unique_ptr<eviction_policy> inner)
    : inner_(std::move(inner)) {
  UVM_EXPECTS(inner_ != nullptr, "uvm::config::custom_eviction returned no policy");
}

void guarded_eviction::failed(const char* hook) noexcept {
  report(reported_, inner_->name(), hook);
}

void guarded_eviction::do_on_resident(page_ref p) {
  try {
    inner_->on_resident(p);
  } catch (...) {
    failed("on_resident");
  }
}

void guarded_eviction::do_on_access(page_ref p) {
  try {
    inner_->on_access(p);
  } catch (...) {
    failed("on_access");
  }
}

void guarded_eviction::do_on_released(page_ref p) {
  try {
    inner_->on_released(p);
  } catch (...) {
    failed("on_released");
  }
}

std::optional<page_ref> guarded_eviction::do_victim() {
  try {
    return inner_->victim();
  } catch (...) {
    failed("victim");
    return std::nullopt;
  }
}

guarded_prefetch::guarded_prefetch(std::unique_ptr<prefetch_policy> inner)
    : inner_(std::move(inner)) {
  UVM_EXPECTS(inner_ != nullptr, "uvm::config::custom_prefetch returned no policy");
}

void guarded_prefetch::do_expand(std::size_t faulting, const block_state& block,
                                 std::vector<std::size_t>& out) {
  answer_.clear();
  try {
    inner_->expand(faulting, block, answer_);
  } catch (...) {
    report(reported_, inner_->name(), "expand");
    return;
  }
  std::size_t last = block.first_page;  // ascending, inside the block, once each
  bool any = false;
  for (const std::size_t q : answer_) {
    if (q < block.first_page || q >= block.first_page + block.page_count || q == faulting) continue;
    if (any && q <= last) continue;
    out.push_back(q);
    last = q;
    any = true;
  }
}

}  // namespace uvm::detail
