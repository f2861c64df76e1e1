#pragma once

// What the trace generator's algorithms are written with: a random source that gives the same
// numbers on every host, Zipf draws, and a kernel's list of pages as the runtime records it.

#include "bench/replay/trace_io.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <numeric>
#include <utility>
#include <vector>

namespace uvm::replay::detail {

// splitmix64 (Steele, Lea, Flood 2014): tiny, fast and the same everywhere.
class rng {
 public:
  explicit rng(std::uint64_t seed) : s_(seed) {}
  std::uint64_t next() noexcept {
    std::uint64_t z = (s_ += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
  /// Uniform in [0, n), n > 0 (Lemire's multiply-shift; the tiny bias is irrelevant here).
  std::uint32_t below(std::uint32_t n) noexcept {
    return static_cast<std::uint32_t>((next() >> 32) * n >> 32);
  }
  /// Uniform in [0, 1).
  double unit() noexcept { return static_cast<double>(next() >> 11) * 0x1.0p-53; }

 private:
  std::uint64_t s_;
};

// Zipf-distributed draws over n items, item k (0-based, in a fixed shuffled order, so the
// popular ones are scattered) drawn with weight 1 / (k + 1)^exponent.
class zipf {
 public:
  zipf(std::uint32_t n, double exponent, rng& gen) : order_(n), cumulative_(n) {
    std::iota(order_.begin(), order_.end(), 0u);
    for (std::uint32_t i = n; i > 1; --i) std::swap(order_[i - 1], order_[gen.below(i)]);
    double sum = 0;
    for (std::uint32_t k = 0; k < n; ++k) cumulative_[k] = sum += std::pow(k + 1.0, -exponent);
  }
  std::uint32_t draw(rng& gen) const {
    const double x = gen.unit() * cumulative_.back();
    const auto k =
        std::upper_bound(cumulative_.begin(), cumulative_.end(), x) - cumulative_.begin();
    return order_[std::min<std::size_t>(order_.size() - 1, static_cast<std::size_t>(k))];
  }

 private:
  std::vector<std::uint32_t> order_;
  std::vector<double> cumulative_;
};

// One kernel of an algorithm: the pages it uses, each once, in page order (a page both read and
// written is a write), as the runtime's trace lists them.
class kernel_pages {
 public:
  void read(std::uint32_t first, std::uint32_t count = 1) { add(first, count, false); }
  void write(std::uint32_t first, std::uint32_t count = 1) { add(first, count, true); }
  // Appends the kernel to `t` as epoch `epoch`, and empties it.
  void emit(trace& t, std::uint32_t epoch) {
    std::sort(uses_.begin(), uses_.end());  // a page's writes after its reads
    t.records.push_back(epoch_record(epoch));
    for (std::size_t i = 0; i < uses_.size(); ++i) {
      if (i + 1 < uses_.size() && uses_[i + 1].first == uses_[i].first) continue;
      t.records.push_back(device_access(0, uses_[i].first, uses_[i].second));
    }
    uses_.clear();
  }

 private:
  void add(std::uint32_t first, std::uint32_t count, bool write) {
    for (std::uint32_t p = first; p < first + count; ++p) uses_.emplace_back(p, write);
  }
  std::vector<std::pair<std::uint32_t, bool>> uses_;
};

}  // namespace uvm::replay::detail
