#include <uvm/manager.hpp>

#include "host/common/check.hpp"
#include "host/runtime.hpp"

namespace uvm {

manager::manager(config cfg) : runtime_(std::make_shared<detail::runtime>(cfg)) {}
manager::~manager() = default;
manager::manager(manager&&) noexcept = default;
manager& manager::operator=(manager&&) noexcept = default;

range manager::allocate(std::size_t bytes) {
  return range(runtime_, runtime_->allocate(bytes));
}

void manager::free(void* base) {
  runtime_->free_released(base);
}

void manager::advise(const void* p, std::size_t bytes, advice a) {
  UVM_EXPECTS(bytes != 0, "uvm::manager::advise({}, 0): empty span", p);
  detail::managed_range& r = runtime_->find(p);
  const auto* first = static_cast<const std::byte*>(p);
  UVM_EXPECTS(bytes <= static_cast<std::size_t>(r.base() + r.reserved() - first),
              "uvm::manager::advise({}, {}): the span runs past the end of its range ({} + {})", p,
              bytes, static_cast<void*>(r.base()), r.reserved());
  const std::size_t p0 = r.page_of(first);
  r.advise(p0, r.page_of(first + bytes - 1) - p0 + 1, a);
}

stream manager::create_stream(std::string_view name) {
  return stream(runtime_->create_stream(name));
}

void manager::launch(std::size_t n, std::function<void(std::size_t, std::size_t)> body,
                     const stream& s) {
  runtime_->launch(n, std::move(body), s);
}

void manager::synchronize(const stream& s, std::chrono::milliseconds timeout) {
  runtime_->synchronize(s, timeout);
}

std::size_t manager::prefetch(const void* p, std::size_t bytes, location to, const stream& s) {
  return runtime_->prefetch(p, bytes, to, s);
}

page_state manager::state_of(const void* p) const {
  detail::managed_range& r = runtime_->find(p);
  return r.state_of(r.page_of(p));
}

uvm::stats manager::stats() const {
  return runtime_->snapshot();
}
void manager::reset_stats() {
  runtime_->reset_stats();
}
const config& manager::configuration() const noexcept {
  return runtime_->cfg();
}
backend_kind manager::backend() const noexcept {
  return runtime_->backend();
}
std::size_t manager::max_allocation() noexcept {
  return std::size_t{1} << 40;
}

void manager::check_count(std::size_t count, std::size_t element_size) {
  UVM_EXPECTS(count <= max_allocation() / element_size,
              "uvm::manager::allocate: {} elements of {} bytes is more than max_allocation() = {} "
              "bytes",
              count, element_size, max_allocation());
}

}  // namespace uvm
