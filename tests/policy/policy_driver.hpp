#pragma once

// Drives an eviction policy like a device with `frames` frames over page numbers of one range.

#include "host/policy/eviction_policy.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <unordered_set>
#include <vector>

namespace uvm::detail::testing {

/// @return the faults the policy takes on `refs`.
inline std::size_t faults(eviction_policy& policy, std::size_t frames,
                          const std::vector<std::uint32_t>& refs) {
  std::size_t n = 0;
  std::unordered_set<std::uint32_t> resident;
  for (const std::uint32_t r : refs) {
    const page_ref p{0, r};
    if (resident.contains(r)) {
      policy.on_access(p);
      continue;
    }
    ++n;
    if (resident.size() == frames) {
      const auto v = policy.victim();
      EXPECT_TRUE(v.has_value());
      if (!v) return n;
      EXPECT_TRUE(resident.contains(v->page)) << "victim " << v->page << " is not resident";
      resident.erase(v->page);
      policy.on_released(*v);
    }
    resident.insert(r);
    policy.on_resident(p);
  }
  return n;
}

/// `pages` pages in order, `passes` times.
inline std::vector<std::uint32_t> loop(std::uint32_t pages, int passes) {
  std::vector<std::uint32_t> v;
  for (int k = 0; k < passes; ++k) {
    for (std::uint32_t p = 0; p < pages; ++p) v.push_back(p);
  }
  return v;
}

/// `n` references: page 0..hot-1 with probability `hot_share`, the rest spread over `cold`
/// pages after them. A fixed linear congruential sequence: the same on every run.
inline std::vector<std::uint32_t> hot_cold(std::uint32_t hot, std::uint32_t cold, double hot_share,
                                           std::size_t n) {
  std::vector<std::uint32_t> v;
  std::uint64_t x = 12345;
  for (std::size_t i = 0; i < n; ++i) {
    x = x * 6364136223846793005ull + 1442695040888963407ull;
    const double u = static_cast<double>(x >> 11) * 0x1.0p-53;
    x = x * 6364136223846793005ull + 1442695040888963407ull;
    const auto pick = static_cast<std::uint32_t>(x >> 33);
    v.push_back(u < hot_share ? pick % hot : hot + pick % cold);
  }
  return v;
}

}  // namespace uvm::detail::testing
