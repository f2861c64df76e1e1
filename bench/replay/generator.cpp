#include "bench/replay/generator.hpp"

#include "host/common/check.hpp"

#include <cmath>
#include <limits>

namespace uvm::replay {
namespace {

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

}  // namespace

std::optional<pattern> parse_pattern(std::string_view s) {
  if (s == "sequential") return pattern::sequential;
  if (s == "strided") return pattern::strided;
  if (s == "random") return pattern::random;
  if (s == "cyclic") return pattern::cyclic;
  if (s == "hot_cold" || s == "hot-cold") return pattern::hot_cold;
  if (s == "ping_pong" || s == "ping-pong") return pattern::ping_pong;
  return std::nullopt;
}

std::string_view pattern_name(pattern p) noexcept {
  switch (p) {
    case pattern::sequential: return "sequential";
    case pattern::strided: return "strided";
    case pattern::random: return "random";
    case pattern::cyclic: return "cyclic";
    case pattern::hot_cold: return "hot_cold";
    case pattern::ping_pong: return "ping_pong";
  }
  return "?";
}

std::string_view pattern_names() noexcept {
  return "sequential, strided, random, cyclic, hot_cold, ping_pong";
}

std::uint32_t cyclic_pages(std::uint32_t budget_pages, double fraction) {
  UVM_EXPECTS(budget_pages > 0, "trace generator: the cyclic pattern needs a budget");
  UVM_EXPECTS(fraction > 0 && std::isfinite(fraction),
              "trace generator: cyclic fraction {} must be positive", fraction);
  const double w = std::round(fraction * budget_pages);
  UVM_EXPECTS(w <= std::numeric_limits<std::uint32_t>::max(),
              "trace generator: a working set of {} pages is too large", w);
  return std::max<std::uint32_t>(1, static_cast<std::uint32_t>(w));
}

trace generate(const gen_options& o) {
  UVM_EXPECTS(o.passes > 0, "trace generator: passes must be at least 1");
  UVM_EXPECTS(o.page_size != 0 && (o.page_size & (o.page_size - 1)) == 0,
              "trace generator: page size {} is not a power of two", o.page_size);
  UVM_EXPECTS(o.write_fraction >= 0 && o.write_fraction <= 1,
              "trace generator: write fraction {} is not within [0, 1]", o.write_fraction);
  const std::uint32_t pages =
      o.kind == pattern::cyclic ? cyclic_pages(o.budget_pages, o.fraction) : o.pages;
  UVM_EXPECTS(pages > 0, "trace generator: pages must be at least 1");
  if (o.kind == pattern::strided)
    UVM_EXPECTS(o.stride > 0, "trace generator: stride must be at least 1");
  std::uint32_t hot = 0;
  if (o.kind == pattern::hot_cold) {
    UVM_EXPECTS(o.hot_fraction > 0 && o.hot_fraction < 1,
                "trace generator: hot fraction {} is not within (0, 1)", o.hot_fraction);
    UVM_EXPECTS(o.hot_probability >= 0 && o.hot_probability <= 1,
                "trace generator: hot probability {} is not within [0, 1]", o.hot_probability);
    hot = std::max<std::uint32_t>(1, static_cast<std::uint32_t>(o.hot_fraction * pages));
    UVM_EXPECTS(hot < pages, "trace generator: hot_cold needs at least 2 pages");
  }

  trace t;
  t.page_size = o.page_size;
  t.records.push_back(range_record(0, pages));
  rng gen(o.seed);
  auto dev = [&](std::uint32_t page) {
    const bool write = o.write_fraction > 0 && gen.unit() < o.write_fraction;
    t.records.push_back(device_access(0, page, write));
  };
  std::uint32_t epoch = 0;
  for (std::uint32_t pass = 0; pass < o.passes; ++pass) {
    t.records.push_back(epoch_record(epoch++));
    switch (o.kind) {
      case pattern::sequential:
      case pattern::cyclic:
        for (std::uint32_t p = 0; p < pages; ++p) dev(p);
        break;
      case pattern::strided:
        for (std::uint64_t p = 0; p < pages; p += o.stride) dev(static_cast<std::uint32_t>(p));
        break;
      case pattern::random:
        for (std::uint32_t k = 0; k < pages; ++k) dev(gen.below(pages));
        break;
      case pattern::hot_cold:
        for (std::uint32_t k = 0; k < pages; ++k) {
          dev(gen.unit() < o.hot_probability ? gen.below(hot) : hot + gen.below(pages - hot));
        }
        break;
      case pattern::ping_pong:
        for (std::uint32_t p = 0; p < pages; ++p) t.records.push_back(device_access(0, p, true));
        for (std::uint32_t p = 0; p < pages; ++p) t.records.push_back(cpu_access(0, p, true));
        break;
    }
  }
  return t;
}

}  // namespace uvm::replay
