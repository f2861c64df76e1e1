#pragma once

// What the cluster protocol needs from the process's own copies of a range's pages: their
// bytes, and a way to open and narrow what the process's code may do with each. The protocol
// moves data only between calls that keep it still: it reads a page's bytes after narrowing
// it, and writes them before opening it. Non-virtual interface.

#include "host/cluster/protocol.hpp"

#include <cstddef>
#include <span>

namespace uvm::detail {

class local_copies {
 public:
  virtual ~local_copies() = default;

  /// The process's copy of `page` (at the home, also the home's copy).
  [[nodiscard]] std::span<std::byte> bytes(std::size_t page) noexcept { return do_bytes(page); }

  /// Lets the process's code do `a` with `page`; its bytes are in place.
  void allow(std::size_t page, page_access a) { do_allow(page, a); }

  /// Returns once the process's code can do no more than `a` with `page`: no store to its bytes
  /// is under way or can start (and with `none`, no load). Called on the progress thread; must
  /// not wait for the cluster.
  void narrow(std::size_t page, page_access a) { do_narrow(page, a); }

 private:
  virtual std::span<std::byte> do_bytes(std::size_t page) noexcept = 0;
  virtual void do_allow(std::size_t page, page_access a) = 0;
  virtual void do_narrow(std::size_t page, page_access a) = 0;
};

}  // namespace uvm::detail
