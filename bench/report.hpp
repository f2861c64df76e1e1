#pragma once

// Printers for a run's records: an aligned table for people, JSON and CSV for tools.

#include "bench/record.hpp"

#include <optional>
#include <ostream>
#include <string_view>
#include <vector>

namespace bench {

enum class report_format { table, json, csv };

// "table", "json" or "csv" -> the format; anything else -> nullopt.
[[nodiscard]] std::optional<report_format> parse_report_format(std::string_view s);

// The accepted names, for error messages and --help: "table, json, csv".
[[nodiscard]] std::string_view report_format_names();

void write_report(std::ostream& out, const std::vector<record>& records, report_format f);

}  // namespace bench
