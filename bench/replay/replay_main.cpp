// uvm-replay TRACE [--policy fifo|lru|clock|adaptive|lfu|dueling|arc|lirs|a0|all] [--prefetch
// none|sequential|tree|all]
//                  --budget PAGES|BYTES[K|M|G] [--model PROFILE[,PROFILE...]]
//                  [--format table|json|csv]
// Replays a page-access trace through the shipped policies and Belady's MIN; see compare.hpp.

#include "bench/progress.hpp"
#include "bench/replay/compare.hpp"
#include "bench/replay/trace_io.hpp"

#include <uvm/device_model.hpp>
#include <uvm/error.hpp>

#include <cstdio>
#include <exception>
#include <iostream>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace {

constexpr const char* usage =
    "usage: uvm-replay TRACE --budget PAGES|BYTES[K|M|G] [--policy "
    "fifo|lru|clock|adaptive|lfu|dueling|arc|lirs|a0|min|all]\n"
    "                  [--prefetch none|sequential|tree|all] [--model PROFILE[,...]]\n"
    "                  [--format table|json|csv]\n"
    "Replays TRACE through the eviction and prefetch policies and Belady's MIN (offline\n"
    "optimal eviction). a0 is the static oracle: it knows each page's share of the trace's\n"
    "accesses in advance and evicts the least popular page (the best an online policy does\n"
    "when accesses are independent draws from a fixed popularity).\n"
    "Defaults: --policy all --prefetch all --format table.\n"
    "bytes/min: bytes moved relative to MIN with the same prefetch.\n"
    "faults/none: device faults relative to the same eviction with prefetch none.\n"
    "A trace that names several devices replays on that many, each with the budget and its\n"
    "own policy (and its own MIN); the table adds the moves between devices.\n"
    "  --budget B    each device's frames: a page count, or bytes with K, M or G (required)\n"
    "  --policy P    eviction policy to replay, or all (--eviction is the same)\n"
    "  --prefetch P  prefetch policy to replay, or all\n"
    "  --model M     also time each replay on device model M (a shipped profile: pcie3-1080ti,\n"
    "                h100-pcie5, gh200-c2c, or a profile file; several separated by commas):\n"
    "                a column of modelled ms each, and the fastest pair on each\n"
    "  --format F    output format\n"
    "  --help        show this help and exit\n"
    "While a replay runs longer than a second, a progress line shows on stderr if it is a\n"
    "terminal.\n";

std::vector<std::string> expand(std::string_view v, std::vector<std::string> all,
                                std::string_view what) {
  if (v == "all") return all;
  for (const std::string& a : all) {
    if (v == a) return {a};
  }
  if (what == "policy" && (v == "min" || v == "belady")) return {};  // MIN rows come anyway
  std::string names;
  for (const std::string& a : all) names += a + ", ";
  if (what == "policy") names += "min, ";
  throw uvm::invalid_argument("unknown " + std::string(what) + " '" + std::string(v) +
                              "' (valid: " + names + "all)");
}

}  // namespace

int main(int argc, char** argv) {
  bool parsed = false;  // past the command line: errors are about the trace, not the usage
  try {
    std::optional<std::string> path;
    std::string policy = "all";
    std::string prefetch = "all";
    std::optional<std::string> budget;
    std::string format = "table";
    std::vector<uvm::device_profile> models;
    std::vector<std::string> model_names;
    for (int i = 1; i < argc; ++i) {
      const std::string_view a = argv[i];
      auto value = [&](std::string_view name) -> std::string {
        if (i + 1 >= argc) throw uvm::invalid_argument(std::string(name) + " needs a value");
        return argv[++i];
      };
      if (a == "-h" || a == "--help") {
        std::cout << usage;
        return 0;
      }
      if (a == "--policy" || a == "--eviction") {
        policy = value(a);
      } else if (a == "--prefetch") {
        prefetch = value(a);
      } else if (a == "--budget") {
        budget = value(a);
      } else if (a == "--format") {
        format = value(a);
      } else if (a == "--model") {
        std::string_view list = argv[i + 1 < argc ? i + 1 : i];
        (void)value(a);
        while (!list.empty()) {
          const std::size_t comma = std::min(list.find(','), list.size());
          models.push_back(uvm::device_profile::load(list.substr(0, comma)));
          model_names.push_back(models.back().name);
          list.remove_prefix(std::min(comma + 1, list.size()));
        }
      } else if (a.starts_with("--")) {
        throw uvm::invalid_argument("unknown option '" + std::string(a) + "'");
      } else if (!path) {
        path = std::string(a);
      } else {
        throw uvm::invalid_argument("more than one trace given");
      }
    }
    if (!path) throw uvm::invalid_argument("no trace given");
    if (!budget) throw uvm::invalid_argument("--budget is required");
    const auto fmt = uvm::replay::parse_output_format(format);
    if (!fmt)
      throw uvm::invalid_argument("unknown format '" + format + "' (valid: table, json, csv)");
    const auto evictions =
        expand(policy, {"fifo", "lru", "clock", "adaptive", "lfu", "dueling", "arc", "lirs", "a0"},
               "policy");
    const auto prefetches = expand(prefetch, {"none", "sequential", "tree"}, "prefetch");

    parsed = true;
    const uvm::replay::trace t = uvm::replay::read_trace(*path);
    const std::size_t pages = uvm::replay::parse_budget(*budget, t.page_size);
    const auto rows = [&] {
      const bench::progress_line line("uvm-replay: " + *path + " (" +
                                      std::to_string(t.records.size()) + " records)");
      return uvm::replay::compare(t, evictions, prefetches, pages, models);
    }();
    uvm::replay::write_comparison(
        std::cout,
        {*path, t.page_size, pages, t.records.size(), uvm::replay::device_count(t), model_names},
        rows, *fmt);
    return 0;
  } catch (const uvm::invalid_argument& e) {
    std::fprintf(stderr, "uvm-replay: %s\n%s", e.what(), parsed ? "" : usage);
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "uvm-replay: %s\n", e.what());
    return 1;
  }
}
