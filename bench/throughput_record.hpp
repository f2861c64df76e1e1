#pragma once

// A throughput record from time samples: bytes moved per sample, GB/s.

#include "bench/record.hpp"
#include "bench/timing.hpp"

#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace bench {

/// GB/s per sample, from ns samples (bytes / ns = GB/s). Order statistics of throughput are
/// those of time reversed, so they are computed from the times and inverted. `page_size` 0:
/// no page_size parameter (a baseline).
[[nodiscard]] inline record throughput_record(std::string suite, std::string name,
                                              std::size_t page_size, std::size_t bytes,
                                              const std::vector<std::uint64_t>& ns) {
  const summary s = summarize(ns);
  const auto gbps = [bytes](double t) { return t > 0 ? static_cast<double>(bytes) / t : 0.0; };
  record r;
  r.suite = std::move(suite);
  r.name = std::move(name);
  r.unit = "GB/s";
  r.value = gbps(s.median);
  r.samples = s.count;
  r.p10 = gbps(s.p90);  // the slowest 10% of times are the lowest 10% of throughputs
  r.p90 = gbps(s.p10);
  if (page_size != 0) r.params.push_back({"page_size", static_cast<std::int64_t>(page_size)});
  r.params.push_back({"bytes", static_cast<std::int64_t>(bytes)});
  return r;
}

}  // namespace bench
