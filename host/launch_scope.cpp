#include <uvm/launch_scope.hpp>

#include "host/common/check.hpp"
#include "host/runtime.hpp"

namespace uvm {

launch_scope::launch_scope(std::shared_ptr<detail::runtime> rt, stream s, void* native,
                           int native_device, std::vector<detail::resident_mapping> spans,
                           std::uint64_t epoch) noexcept
    : runtime_(std::move(rt)),
      stream_(std::move(s)),
      native_(native),
      native_device_(native_device),
      spans_(std::move(spans)),
      epoch_(epoch) {}

launch_scope::launch_scope(launch_scope&& other) noexcept
    : runtime_(std::move(other.runtime_)),
      stream_(std::move(other.stream_)),
      native_(other.native_),
      native_device_(other.native_device_),
      spans_(std::move(other.spans_)),
      epoch_(other.epoch_) {}

launch_scope::~launch_scope() {
  end();
}

void launch_scope::end() noexcept {
  if (runtime_ == nullptr) return;
  runtime_->end_epoch(stream_, epoch_);
  runtime_.reset();
}

void* launch_scope::translate(const void* p) const {
  const auto* b = static_cast<const std::byte*>(p);
  for (const detail::resident_mapping& m : spans_) {
    if (b >= m.host && b < m.host + m.bytes) return m.device + (b - m.host);
  }
  detail::throw_invalid(
      "uvm::launch_scope::device_pointer({}): not inside a span declared at begin_launch", p);
}

void launch_scope::run(std::size_t n, std::function<void(std::size_t, std::size_t)> body) {
  UVM_EXPECTS(runtime_ != nullptr, "uvm::launch_scope::parallel_for: the scope has ended");
  runtime_->run(n, std::move(body), stream_, epoch_);
}

}  // namespace uvm
