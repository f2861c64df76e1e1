#pragma once

// The process's one table of live ranges, searched by the signal handler without locks.
// A handler pins the slot it found; unregistering waits (bounded) until no handler uses it.

#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <mutex>

namespace uvm::detail {

class managed_range;

class range_registry {
 public:
  static constexpr std::size_t capacity = 4096;

  /// A handler's hold on a registered range; the range is not destroyed while it lives.
  class pin {
   public:
    pin() noexcept = default;
    pin(pin&& o) noexcept : slot_(o.slot_), range_(o.range_) { o.slot_ = nullptr; }
    pin(const pin&) = delete;
    pin& operator=(const pin&) = delete;
    pin& operator=(pin&&) = delete;
    ~pin() {
      if (slot_ != nullptr) slot_->fetch_sub(1, std::memory_order_release);
    }
    explicit operator bool() const noexcept { return range_ != nullptr; }
    managed_range* operator->() const noexcept { return range_; }
    managed_range& operator*() const noexcept { return *range_; }

   private:
    friend class range_registry;
    pin(std::atomic<std::uint32_t>* slot, managed_range* r) noexcept : slot_(slot), range_(r) {}
    std::atomic<std::uint32_t>* slot_ = nullptr;
    managed_range* range_ = nullptr;
  };

  static range_registry& process() noexcept;

  /// Publishes [begin, end) -> r.
  /// @throws uvm::out_of_memory when `capacity` ranges are live.
  void add(std::uintptr_t begin, std::uintptr_t end, managed_range* r);

  /// Unpublishes r and waits until no handler holds it.
  /// @return false if handlers still held it after `timeout` (the caller must then not free it).
  bool remove(managed_range* r, std::chrono::milliseconds timeout) noexcept;

  /// Finds the range holding `addr`. Lock-free and async-signal-safe.
  [[nodiscard]] pin find(const void* addr) noexcept;

  [[nodiscard]] std::size_t live() const noexcept;

  /// Empties the table without waiting: what a child of fork() does (pthread_atfork), since it
  /// has none of the parent's ranges mapped. Async-signal-safe.
  void forget_all() noexcept;

 private:
  struct slot {
    std::atomic<std::uintptr_t> begin{0};
    std::atomic<std::uintptr_t> end{0};
    std::atomic<managed_range*> target{nullptr};
    std::atomic<std::uint32_t> users{0};
  };
  std::array<slot, capacity> slots_;
  std::atomic<std::size_t> high_water_{0};
  std::mutex writers_;  // serialises add/remove; readers never take it
};

}  // namespace uvm::detail
