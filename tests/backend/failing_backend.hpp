#pragma once

// Tests only: a backend decorator that makes the n-th call of one kind fail as a device API
// would (a thrown uvm::error), and passes everything else to the backend it wraps. Failure paths
// are driven by arming it: `fail(op::copy, 3)` makes the third copy from now throw.

#include "tests/backend/forwarding_backend.hpp"

#include <uvm/error.hpp>

#include <array>
#include <atomic>
#include <cstdint>
#include <string>

namespace uvm::detail::testing {

class failing_backend final : public forwarding_backend {
 public:
  enum class op : std::uint8_t { allocate, copy, entries, record, count_ };

  explicit failing_backend(backend& inner) : forwarding_backend(inner) {}

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

  void* do_allocate_device(std::size_t bytes, device_id d, device_fill fill) override {
    maybe_fail(op::allocate, "allocate_device");
    return inner().allocate_device(bytes, d, fill);
  }
  void do_copy_async(void* dst, const void* src, std::size_t bytes, copy_kind kind,
                     const stream& s) override {
    maybe_fail(op::copy, "copy_async");
    inner().copy_async(dst, src, bytes, kind, s);
  }
  void do_copy_entries_async(std::uint32_t* dst, const std::uint32_t* src, std::size_t count,
                             const stream& s) override {
    maybe_fail(op::entries, "copy_entries_async");
    inner().copy_entries_async(dst, src, count, s);
  }
  event do_record(const stream& s) override {
    maybe_fail(op::record, "record");
    return inner().record(s);
  }

  std::array<std::atomic<std::uint64_t>, static_cast<std::size_t>(op::count_)> calls_{};
  std::array<std::atomic<std::uint64_t>, static_cast<std::size_t>(op::count_)> fail_at_{};
  std::atomic<std::uint64_t> injected_{0};
};

}  // namespace uvm::detail::testing
