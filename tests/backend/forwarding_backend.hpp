#pragma once

// Tests only: a backend that passes every call to the backend it wraps. Decorators that change
// a few calls (tests/backend/failing_backend.hpp, the sticky errors of
// tests/migration/sticky_error_test.cpp) derive from it and override those alone.

#include "host/backend/backend.hpp"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>

namespace uvm::detail::testing {

class forwarding_backend : public backend {
 public:
  explicit forwarding_backend(backend& inner) : inner_(inner) {}

 protected:
  [[nodiscard]] backend& inner() const noexcept { return inner_; }

  std::string_view do_name() const noexcept override { return inner_.name(); }
  bool do_device_clock_is_host() const noexcept override { return inner_.device_clock_is_host(); }
  device_id do_device_count() const noexcept override { return inner_.device_count(); }
  std::uint32_t do_native_device(device_id d) const noexcept override {
    return inner_.native_device(d);
  }
  bool do_can_access_peer(device_id from, device_id to) const noexcept override {
    return inner_.can_access_peer(from, to);
  }
  void* do_allocate_device(std::size_t bytes, device_id d, device_fill fill) override {
    return inner_.allocate_device(bytes, d, fill);
  }
  void do_free_device(void* p) noexcept override { inner_.free_device(p); }
  void* do_register_host(void* p, std::size_t bytes, host_registration how) override {
    return inner_.register_host(p, bytes, how);
  }
  void do_unregister_host(void* p) noexcept override { inner_.unregister_host(p); }
  stream do_create_stream(std::string_view name, device_id d) override {
    return inner_.create_stream(name, d);
  }
  device_id do_device_of(const stream& s) const override { return inner_.device_of(s); }
  void do_copy_async(void* dst, const void* src, std::size_t bytes, copy_kind kind,
                     const stream& s) override {
    inner_.copy_async(dst, src, bytes, kind, s);
  }
  void do_copy_entries_async(std::uint32_t* dst, const std::uint32_t* src, std::size_t count,
                             const stream& s) override {
    inner_.copy_entries_async(dst, src, count, s);
  }
  void do_launch(std::size_t n, kernel_body body, const stream& s) override {
    inner_.launch(n, std::move(body), s);
  }
  std::size_t do_default_budget(device_id d) override { return inner_.default_budget(d); }
  event do_record(const stream& s) override { return inner_.record(s); }
  gate do_enqueue_gate(const stream& s) override { return inner_.enqueue_gate(s); }
  void do_open_gate(const gate& g) noexcept override { inner_.open_gate(g); }
  std::string do_take_error() override { return inner_.take_error(); }
  bool do_query(const event& e) noexcept override { return inner_.query(e); }
  bool do_wait(const event& e, std::chrono::nanoseconds timeout) noexcept override {
    return inner_.wait(e, timeout);
  }

 private:
  backend& inner_;
};

}  // namespace uvm::detail::testing
