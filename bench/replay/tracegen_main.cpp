// uvm-tracegen OUT --pattern P [--pages N] [--passes N] [--budget PAGES|BYTES] [--fraction F]
//              [--seed S] [--page-size BYTES] [--stride N] [--hot-fraction F]
//              [--hot-probability F] [--writes F]
// Writes a synthetic page-access trace; see generator.hpp for the patterns.

#include "bench/replay/compare.hpp"
#include "bench/replay/generator.hpp"
#include "bench/replay/trace_io.hpp"

#include <uvm/error.hpp>

#include <charconv>
#include <cstdio>
#include <exception>
#include <iostream>
#include <limits>
#include <optional>
#include <string>
#include <string_view>

namespace {

constexpr const char* usage =
    "usage: uvm-tracegen OUT --pattern PATTERN\n"
    "                    [--pages N] [--passes N] [--budget PAGES|BYTES[K|M|G]] [--fraction F]\n"
    "                    [--seed S] [--page-size BYTES[K|M]] [--stride N] [--hot-fraction F]\n"
    "                    [--hot-probability F] [--writes F] [--devices N]\n"
    "Patterns: sequential, strided, random, cyclic, hot_cold, ping_pong, and algorithms that\n"
    "record one kernel per epoch, as the runtime does: stencil (3D, two grids), pagerank\n"
    "(power-law graph), btree (Zipf lookups), merge_sort, and held out for judging policies:\n"
    "hash_probe, fft2d, phase_change, kv_cache, grid_bfs, uneven_phases, drifting_loop,\n"
    "shifting_zipf, stencil_lookup. A pass\n"
    "is one time step, iteration, batch of lookups or sort; --pages is the footprint (see\n"
    "bench/replay/generator.hpp).\n"
    "cyclic: a working set of F x budget pages (--fraction 1.5 = 150%), read --passes times.\n"
    "Defaults: --pages 4096 --passes 1 --fraction 1.5 --seed 1 --page-size 4096 --stride 16\n"
    "          --hot-fraction 0.1 --hot-probability 0.9 --writes 0 --devices 1\n"
    "--devices N: epoch k's kernel runs on device k mod N (uvm-replay then simulates N devices).\n";

std::uint64_t to_u64(std::string_view name, std::string_view s) {
  std::uint64_t v = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc{} || end != s.data() + s.size()) {
    throw uvm::invalid_argument(std::string(name) + ": '" + std::string(s) + "' is not a number");
  }
  return v;
}

std::uint32_t to_u32(std::string_view name, std::string_view s) {
  const std::uint64_t v = to_u64(name, s);
  if (v > std::numeric_limits<std::uint32_t>::max()) {
    throw uvm::invalid_argument(std::string(name) + ": " + std::string(s) + " is too large");
  }
  return static_cast<std::uint32_t>(v);
}

double to_double(std::string_view name, const std::string& s) {
  std::size_t used = 0;
  double v = 0;
  try {
    v = std::stod(s, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used != s.size() || s.empty()) {
    throw uvm::invalid_argument(std::string(name) + ": '" + s + "' is not a number");
  }
  return v;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    uvm::replay::gen_options o;
    std::optional<std::string> out;
    std::optional<std::string> pattern;
    std::optional<std::string> budget;
    for (int i = 1; i < argc; ++i) {
      const std::string_view a = argv[i];
      auto value = [&]() -> std::string {
        if (i + 1 >= argc) throw uvm::invalid_argument(std::string(a) + " needs a value");
        return argv[++i];
      };
      if (a == "-h" || a == "--help") {
        std::cout << usage;
        return 0;
      }
      if (a == "--pattern") {
        pattern = value();
      } else if (a == "--pages") {
        o.pages = to_u32(a, value());
      } else if (a == "--passes") {
        o.passes = to_u32(a, value());
      } else if (a == "--budget") {
        budget = value();
      } else if (a == "--fraction") {
        o.fraction = to_double(a, value());
      } else if (a == "--seed") {
        o.seed = to_u64(a, value());
      } else if (a == "--page-size") {
        o.page_size = uvm::replay::parse_budget(value(), 1);  // bytes, K/M/G accepted
      } else if (a == "--stride") {
        o.stride = to_u32(a, value());
      } else if (a == "--hot-fraction") {
        o.hot_fraction = to_double(a, value());
      } else if (a == "--hot-probability") {
        o.hot_probability = to_double(a, value());
      } else if (a == "--writes") {
        o.write_fraction = to_double(a, value());
      } else if (a == "--devices") {
        o.devices = to_u32(a, value());
      } else if (a.starts_with("--")) {
        throw uvm::invalid_argument("unknown option '" + std::string(a) + "'");
      } else if (!out) {
        out = std::string(a);
      } else {
        throw uvm::invalid_argument("more than one output file given");
      }
    }
    if (!out) throw uvm::invalid_argument("no output file given");
    if (!pattern) throw uvm::invalid_argument("--pattern is required");
    const auto kind = uvm::replay::parse_pattern(*pattern);
    if (!kind) {
      throw uvm::invalid_argument("unknown pattern '" + *pattern +
                                  "' (valid: " + std::string(uvm::replay::pattern_names()) + ")");
    }
    o.kind = *kind;
    if (budget) {
      const std::size_t pages = uvm::replay::parse_budget(*budget, o.page_size);
      if (pages > std::numeric_limits<std::uint32_t>::max()) {
        throw uvm::invalid_argument("--budget: too many pages");
      }
      o.budget_pages = static_cast<std::uint32_t>(pages);
    }
    const uvm::replay::trace t = uvm::replay::generate(o);
    uvm::replay::write_trace(*out, t);
    std::fprintf(stderr, "uvm-tracegen: wrote %s: %zu records, %s\n", out->c_str(),
                 t.records.size(), std::string(uvm::replay::pattern_name(o.kind)).c_str());
    return 0;
  } catch (const uvm::invalid_argument& e) {
    std::fprintf(stderr, "uvm-tracegen: %s\n%s", e.what(), usage);
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "uvm-tracegen: %s\n", e.what());
    return 1;
  }
}
