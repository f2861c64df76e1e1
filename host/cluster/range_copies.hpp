#pragma once

// local_copies over a managed range: a page's bytes are its runtime view, and what the process
// may do with a page is its state (unpopulated: nothing; shared: read; host_exclusive: read and
// write), whose app-view protection the fault mechanism keeps. Narrowing a page changes that
// protection before the protocol reads the bytes, so no store is under way once it returns (the
// TLB shootdown of mprotect or MADV_DONTNEED completes before either returns).

#include "host/cluster/local_copies.hpp"
#include "host/coherence/managed_range.hpp"

#include <chrono>

namespace uvm::detail {

class range_copies final : public local_copies {
 public:
  /// `timeout`: how long a change waits for a transition of the page under way.
  range_copies(managed_range& r, std::chrono::nanoseconds timeout) : range_(r), timeout_(timeout) {}

 private:
  std::span<std::byte> do_bytes(std::size_t page) noexcept override {
    return {range_.runtime_view() + page * range_.page_size(), range_.page_size()};
  }
  void do_allow(std::size_t page, page_access a) override;
  void do_narrow(std::size_t page, page_access a) override;
  // Claims `page`, waiting for a transition under way. @return its word before the claim.
  page_word claim(std::size_t page);
  // Moves the claimed page (word `claimed`) to `to` and publishes it. @throws on failure, the
  // page published unchanged.
  void change(std::size_t page, page_word claimed, page_state to);

  managed_range& range_;
  std::chrono::nanoseconds timeout_;
};

}  // namespace uvm::detail
