#pragma once

// uvm-replay's comparison: every (eviction, prefetch) pair asked for, plus Belady's MIN with each
// prefetch, with two ratios per row:
//   bytes_vs_min     bytes moved (H2D + D2H) / those of MIN with the same prefetch
//   faults_vs_none   device faults / those of the same eviction with prefetch "none"
// and, with device models, the replay's modelled time on each (sim_options::models): the table
// says which pair is fastest on each model, as it says which moves fewest bytes.
// The baselines are simulated even when not asked for (they are not printed then).

#include "bench/replay/simulator.hpp"
#include "bench/replay/trace_io.hpp"

#include <cstdint>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

namespace uvm::replay {

struct comparison_row {
  sim_result result;
  std::optional<double> bytes_vs_min;    ///< nullopt when MIN moved nothing and this row did
  std::optional<double> faults_vs_none;  ///< nullopt when "none" took no fault and this row did
};

/// Rows in order: for each prefetch, each eviction, then "min".
[[nodiscard]] std::vector<comparison_row> compare(const trace& t,
                                                  const std::vector<std::string>& evictions,
                                                  const std::vector<std::string>& prefetches,
                                                  std::size_t budget_pages,
                                                  const std::vector<device_profile>& models = {});

enum class output_format { table, json, csv };
[[nodiscard]] std::optional<output_format> parse_output_format(std::string_view s);

/// What the printers say about the run as a whole.
struct run_info {
  std::string trace_name;
  std::uint64_t page_size = 0;
  std::size_t budget_pages = 0;  ///< per device
  std::uint64_t records = 0;
  std::uint32_t devices = 1;        ///< the trace's devices
  std::vector<std::string> models;  ///< the device models' names, in the rows' order
};

void write_comparison(std::ostream& out, const run_info& info,
                      const std::vector<comparison_row>& rows, output_format f);

/// "4096" -> 4096 pages; "16M", "16MiB", "16MB", "1G", "64K", "65536B" -> bytes / page_size
/// (rounded down). @throws uvm::invalid_argument for anything else or less than one page.
[[nodiscard]] std::size_t parse_budget(std::string_view s, std::uint64_t page_size);

}  // namespace uvm::replay
