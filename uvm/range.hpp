#pragma once

/// @file
/// uvm::range, one managed allocation, and uvm::typed_range<T>, the same with an element type.

#include <uvm/advice.hpp>
#include <uvm/device_view.hpp>
#include <uvm/page_state.hpp>

#include <cstddef>
#include <memory>
#include <span>
#include <utility>

namespace uvm {

namespace detail {
class runtime;
class managed_range;
}  // namespace detail

/// @brief Owner of one managed allocation: a page-aligned virtual range that CPU code reads and
/// writes directly while the library keeps it coherent page by page.
///
/// Move-only. Destroying (or reset()) frees the memory and the address range; an access to it
/// afterwards is a use after free and is reported like any stray access (the process gets
/// SIGSEGV unless the application handles it). A range keeps its manager's runtime alive, so it
/// may outlive the uvm::manager object that allocated it.
class range {
 public:
  range() noexcept = default;
  range(range&& other) noexcept { swap(other); }
  range& operator=(range&& other) noexcept {
    range(std::move(other)).swap(*this);
    return *this;
  }
  range(const range&) = delete;
  range& operator=(const range&) = delete;
  ~range() { reset(); }

  /// @return the first byte, aligned to page_size(); nullptr for an empty range.
  [[nodiscard]] std::byte* data() const noexcept;
  /// @return the size asked for at allocation (the reservation is rounded up to whole pages).
  [[nodiscard]] std::size_t size() const noexcept;
  /// @return the range's coherence unit in bytes.
  [[nodiscard]] std::size_t page_size() const noexcept;
  /// @return the number of pages reserved.
  [[nodiscard]] std::size_t page_count() const noexcept;
  [[nodiscard]] bool empty() const noexcept { return impl_ == nullptr; }
  explicit operator bool() const noexcept { return impl_ != nullptr; }

  /// @brief The state of the page holding `p`.
  /// @throws uvm::invalid_argument if `p` is not inside this range's reservation.
  [[nodiscard]] page_state state_of(const void* p) const;

  /// @brief Applies `a` to every page of the range (see uvm::manager::advise for spans).
  /// @throws uvm::invalid_argument on an empty range.
  void advise(advice a, location where = location::device());

  /// @brief Frees the allocation now, after the kernels in flight that may use it end and its
  /// queued prefetches ran (as cudaFree waits for the device; bounded by config::fault_timeout).
  /// A no-op on an empty range.
  void reset() noexcept;

  /// @brief Gives ownership to the manager and empties this object: the memory stays valid until
  /// uvm::manager::free(p) is called with the returned pointer or the runtime is destroyed.
  /// @return data() before the call.
  [[nodiscard]] void* release() noexcept;

  /// @return the bytes viewed as `T` elements (size() / sizeof(T) of them).
  template <class T>
  [[nodiscard]] std::span<T> as() const noexcept {
    return {reinterpret_cast<T*>(data()), size() / sizeof(T)};
  }

  /// @return a device view of the bytes as `T` elements, for kernels.
  template <class T>
  [[nodiscard]] device_view<T> view() const noexcept {
    return device_view<T>(device(), size() / sizeof(T));
  }

  /// @return how device code reaches this range (empty for an empty range).
  [[nodiscard]] detail::device_range device() const noexcept;

  void swap(range& other) noexcept {
    std::swap(runtime_, other.runtime_);
    std::swap(impl_, other.impl_);
  }

 private:
  friend class manager;
  friend class cluster;
  range(std::shared_ptr<detail::runtime> rt, detail::managed_range* impl) noexcept
      : runtime_(std::move(rt)), impl_(impl) {}

  std::shared_ptr<detail::runtime> runtime_;
  detail::managed_range* impl_ = nullptr;
};

/// @brief A range holding `size()` objects of trivially copyable type `T`, zero-initialised.
template <class T>
class typed_range {
  static_assert(std::is_trivially_copyable_v<T>, "managed memory holds trivially copyable types");

 public:
  typed_range() noexcept = default;
  typed_range(range r, std::size_t count) noexcept : range_(std::move(r)), count_(count) {}

  [[nodiscard]] T* data() const noexcept { return reinterpret_cast<T*>(range_.data()); }
  [[nodiscard]] std::size_t size() const noexcept { return count_; }
  [[nodiscard]] T& operator[](std::size_t i) const noexcept { return data()[i]; }
  [[nodiscard]] T* begin() const noexcept { return data(); }
  [[nodiscard]] T* end() const noexcept { return data() + count_; }
  [[nodiscard]] std::span<T> span() const noexcept { return {data(), count_}; }
  /// @return a read-write view for kernels (see uvm::device_view).
  [[nodiscard]] device_view<T> view() const noexcept { return {range_.device(), count_}; }
  /// @return a read-only view for kernels: its pages may stay valid on the host too.
  [[nodiscard]] const_device_view<T> const_view() const noexcept {
    return {range_.device(), count_};
  }
  /// @return the underlying untyped range (state queries, advice, release).
  [[nodiscard]] range& bytes() noexcept { return range_; }
  [[nodiscard]] const range& bytes() const noexcept { return range_; }

 private:
  range range_;
  std::size_t count_ = 0;
};

}  // namespace uvm
