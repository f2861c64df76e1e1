#include <uvm/manager.hpp>

#include "host/common/check.hpp"
#include "host/runtime.hpp"

namespace uvm {

manager::manager(config cfg) : runtime_(std::make_shared<detail::runtime>(cfg)) {}
manager::~manager() = default;
manager::manager(manager&&) noexcept = default;
manager& manager::operator=(manager&&) noexcept = default;

range manager::allocate(std::size_t bytes) {
  return range(runtime_, runtime_->allocate(bytes, attach_kind::global));
}

range manager::allocate(std::size_t bytes, attach_kind initial) {
  return range(runtime_, runtime_->allocate(bytes, initial));
}

void manager::attach(const void* p, std::size_t bytes, attach_kind k, const stream& s) {
  runtime_->attach(p, bytes, k, s);
}

void manager::free(void* base) {
  runtime_->free_released(base);
}

void manager::advise(const void* p, std::size_t bytes, advice a, location where) {
  runtime_->advise(p, bytes, a, where);
}

range_attributes manager::range_attributes(const void* p, std::size_t bytes) const {
  return runtime_->attributes(p, bytes);
}

void manager::pin_resident(const void* p, std::size_t bytes, location where) {
  runtime_->pin_resident(p, bytes, where);
}

void manager::unpin(const void* p, std::size_t bytes) {
  runtime_->unpin(p, bytes);
}

int manager::device_count() const noexcept {
  return runtime_->device_count();
}

stream manager::create_stream(std::string_view name, int device) {
  return stream(runtime_->create_stream(name, device), device);
}

launch_scope manager::begin_launch(std::initializer_list<resident_span> declared, const stream& s) {
  void* native = runtime_->native_stream(s);
  detail::runtime::epoch e =
      runtime_->begin_epoch({declared.begin(), declared.size()}, {}, false, s);
  runtime_->hold_for_registrations(s, e.ticket);
  return launch_scope(runtime_, s, native, runtime_->native_device(s), std::move(e.mappings),
                      e.ticket);
}

launch_scope manager::begin_declared_launch(std::initializer_list<resident_span> touches,
                                            const stream& s) {
  void* native = runtime_->native_stream(s);
  detail::runtime::epoch e = runtime_->begin_epoch({}, {touches.begin(), touches.size()}, true, s);
  runtime_->hold_for_registrations(s, e.ticket);
  return launch_scope(runtime_, s, native, runtime_->native_device(s), {}, e.ticket);
}

void manager::launch(std::size_t n, std::function<void(std::size_t, std::size_t)> body,
                     const stream& s, std::span<const resident_span> touches, bool declared) {
  runtime_->launch(n, std::move(body), s, touches, declared);
}

void manager::synchronize(const stream& s, std::chrono::milliseconds timeout) {
  runtime_->synchronize(s, timeout);
}

void manager::prefetch(const void* p, std::size_t bytes, location to, const stream& s) {
  const prefetch_span one{p, bytes, to};
  runtime_->enqueue_moves({&one, 1}, false, true, s);
}

void manager::prefetch(std::span<const prefetch_span> spans, const stream& s) {
  runtime_->enqueue_moves(spans, false, true, s);
}

void manager::discard(const void* p, std::size_t bytes, const stream& s) {
  const prefetch_span one{p, bytes, location::host()};
  runtime_->enqueue_moves({&one, 1}, true, false, s);
}

void manager::discard(std::span<const memory_span> spans, const stream& s) {
  std::vector<prefetch_span> all;
  all.reserve(spans.size());
  for (const memory_span& m : spans) all.push_back({m.data, m.bytes, location::host()});
  runtime_->enqueue_moves(all, true, false, s);
}

void manager::discard_and_prefetch(std::span<const prefetch_span> spans, const stream& s) {
  runtime_->enqueue_moves(spans, true, true, s);
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
