#pragma once

// prefetch is stream-ordered and returns at once; tests that check what moved wait for it.

#include <uvm/manager.hpp>

#include <cstddef>

namespace uvm::testing {

/// Prefetches [p, p + bytes) to `to` on `s`, waits for it, and returns the pages it moved
/// (the change of stats().prefetched_pages: meaningful while no other prefetch runs).
inline std::size_t prefetch_now(manager& m, const void* p, std::size_t bytes, location to,
                                const stream& s = {}) {
  const std::uint64_t before = m.stats().prefetched_pages;
  m.prefetch(p, bytes, to, s);
  m.synchronize(s);
  return static_cast<std::size_t>(m.stats().prefetched_pages - before);
}

inline std::size_t prefetch_now(manager& m, const range& r, location to, const stream& s = {}) {
  return prefetch_now(m, r.data(), r.page_count() * r.page_size(), to, s);
}

}  // namespace uvm::testing
