#pragma once

// Tests only: a backend decorator that makes the n-th call of one kind fail as a device API
// would (a thrown uvm::error), and passes everything else to the backend it wraps. Failure paths
// are driven by arming it: `fail(op::copy, 3)` makes the third copy from now throw.

#include "host/backend/backend.hpp"

#include <uvm/error.hpp>

#include <array>
#include <atomic>
#include <cstdint>
#include <string>

namespace uvm::detail::testing {

class failing_backend final : public backend {
 public:
  enum class op : std::uint8_t { allocate, copy, entries, record, count_ };

  explicit failing_backend(backend& inner) : inner_(inner) {}

  /// The `n`-th call of `o` from now on (1: the next) throws; 0 disarms.
  void fail(op o, std::uint64_t n) noexcept {
    const auto i = static_cast<std::size_t>(o);
    calls_[i].store(0, std::memory_order_relaxed);
    fail_at_[i].store(n, std::memory_order_relaxed);
  }
  void disarm() noexcept {
    for (std::size_t i = 0; i < fail_at_.size(); ++i) fail(static_cast<op>(i), 0);
  }
  /// @return how many calls of `o` were made since it was last armed.
  [[nodiscard]] std::uint64_t calls(op o) const noexcept {
    return calls_[static_cast<std::size_t>(o)].load(std::memory_order_relaxed);
  }
  /// @return how many failures were injected in all.
  [[nodiscard]] std::uint64_t injected() const noexcept {
    return injected_.load(std::memory_order_relaxed);
  }

 private:
  void maybe_fail(op o, const char* what) {
    const auto i = static_cast<std::size_t>(o);
    const std::uint64_t n = calls_[i].fetch_add(1, std::memory_order_relaxed) + 1;
    if (n == fail_at_[i].load(std::memory_order_relaxed)) {
      injected_.fetch_add(1, std::memory_order_relaxed);
      throw error(std::string("injected failure of ") + what);
    }
  }

  std::string_view do_name() const noexcept override { return inner_.name(); }
  void* do_allocate_device(std::size_t bytes) override {
    maybe_fail(op::allocate, "allocate_device");
    return inner_.allocate_device(bytes);
  }
  void do_free_device(void* p) noexcept override { inner_.free_device(p); }
  void* do_register_host(void* p, std::size_t bytes, host_registration how) override {
    return inner_.register_host(p, bytes, how);
  }
  void do_unregister_host(void* p) noexcept override { inner_.unregister_host(p); }
  stream do_create_stream(std::string_view name) override { return inner_.create_stream(name); }
  void do_copy_async(void* dst, const void* src, std::size_t bytes, copy_kind kind,
                     const stream& s) override {
    maybe_fail(op::copy, "copy_async");
    inner_.copy_async(dst, src, bytes, kind, s);
  }
  void do_copy_entries_async(std::uint32_t* dst, const std::uint32_t* src, std::size_t count,
                             const stream& s) override {
    maybe_fail(op::entries, "copy_entries_async");
    inner_.copy_entries_async(dst, src, count, s);
  }
  void do_launch(std::size_t n, kernel_body body, const stream& s) override {
    inner_.launch(n, std::move(body), s);
  }
  std::size_t do_default_budget() override { return inner_.default_budget(); }
  event do_record(const stream& s) override {
    maybe_fail(op::record, "record");
    return inner_.record(s);
  }
  gate do_enqueue_gate(const stream& s) override { return inner_.enqueue_gate(s); }
  void do_open_gate(const gate& g) noexcept override { inner_.open_gate(g); }
  std::string do_take_error() override { return inner_.take_error(); }
  bool do_query(const event& e) noexcept override { return inner_.query(e); }
  bool do_wait(const event& e, std::chrono::nanoseconds timeout) noexcept override {
    return inner_.wait(e, timeout);
  }

  backend& inner_;
  std::array<std::atomic<std::uint64_t>, static_cast<std::size_t>(op::count_)> calls_{};
  std::array<std::atomic<std::uint64_t>, static_cast<std::size_t>(op::count_)> fail_at_{};
  std::atomic<std::uint64_t> injected_{0};
};

}  // namespace uvm::detail::testing
