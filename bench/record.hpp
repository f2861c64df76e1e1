#pragma once

// One measured result, as every report format prints it.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <variant>
#include <vector>

namespace bench {

// A parameter of a measurement (page size, page count...). Kept typed so JSON prints numbers
// as numbers.
struct param {
  std::string key;
  std::variant<std::int64_t, double, std::string> value;
};

struct record {
  std::string suite;
  std::string name;
  std::string unit;
  double value = 0;  // the median for latency records
  std::size_t samples = 0;
  std::vector<param> params;
  std::optional<double> p10;
  std::optional<double> p90;
  // Set when a baseline was measured in the same run; ratio = value / baseline_value.
  std::optional<std::string> baseline;
  std::optional<double> baseline_value;
  std::optional<double> ratio;
  // Set when nothing was measured, to the reason (no CUDA device, an option not given...); value
  // and samples then mean nothing and every printer says so.
  std::optional<std::string> skipped;

  // Points this record at `base`, measured in the same run.
  void compare_to(const record& base) {
    baseline = base.name;
    baseline_value = base.value;
    ratio = base.value != 0 ? std::optional<double>(value / base.value) : std::nullopt;
  }
};

}  // namespace bench
