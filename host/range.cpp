#include <uvm/range.hpp>

#include "host/common/check.hpp"
#include "host/runtime.hpp"

namespace uvm {

std::byte* range::data() const noexcept {
  return impl_ != nullptr ? impl_->base() : nullptr;
}
std::size_t range::size() const noexcept {
  return impl_ != nullptr ? impl_->size() : 0;
}
std::size_t range::page_size() const noexcept {
  return impl_ != nullptr ? impl_->page_size() : 0;
}
std::size_t range::page_count() const noexcept {
  return impl_ != nullptr ? impl_->page_count() : 0;
}

detail::device_range range::device() const noexcept {
  return impl_ != nullptr ? impl_->device() : detail::device_range{};
}

page_state range::state_of(const void* p) const {
  UVM_EXPECTS(impl_ != nullptr, "uvm::range::state_of({}): the range is empty", p);
  UVM_EXPECTS(impl_->contains(p), "uvm::range::state_of({}): outside the range {} + {} bytes", p,
              static_cast<void*>(impl_->base()), impl_->reserved());
  return impl_->state_of(impl_->page_of(p));
}

void range::advise(advice a, location where) {
  UVM_EXPECTS(impl_ != nullptr, "uvm::range::advise: the range is empty");
  runtime_->advise(impl_->base(), impl_->reserved(), a, where);
}

void range::reset() noexcept {
  if (impl_ == nullptr) return;
  runtime_->free(impl_);
  impl_ = nullptr;
  runtime_.reset();
}

void* range::release() noexcept {
  if (impl_ == nullptr) return nullptr;
  void* p = impl_->base();
  runtime_->release(impl_);
  impl_ = nullptr;
  runtime_.reset();
  return p;
}

}  // namespace uvm
