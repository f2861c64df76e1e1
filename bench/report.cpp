#include "bench/report.hpp"

#include "bench/size_label.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string>

namespace bench {

namespace {

// Shortest text that reads back as the same double (JSON and CSV carry exact values).
std::string exact_number(double v) {
  if (!std::isfinite(v)) return "";
  char buf[32];
  for (int precision = 6; precision <= 17; ++precision) {
    std::snprintf(buf, sizeof buf, "%.*g", precision, v);
    if (std::strtod(buf, nullptr) == v) break;
  }
  return buf;
}

// Three significant digits are as many as timing noise leaves meaningful.
std::string rounded_number(double v) {
  if (!std::isfinite(v)) return "-";
  char buf[32];
  const double a = std::fabs(v);
  if (a >= 100) {
    std::snprintf(buf, sizeof buf, "%.0f", v);
  } else if (a >= 10) {
    std::snprintf(buf, sizeof buf, "%.1f", v);
  } else {
    std::snprintf(buf, sizeof buf, "%.2f", v);
  }
  return buf;
}

std::string json_string(std::string_view s) {
  std::string out = "\"";
  for (const char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned>(c));
          out += buf;
        } else {
          out += c;  // UTF-8 passes through unchanged, as JSON allows
        }
    }
  }
  return out + "\"";
}

// JSON has no NaN or infinity: those become null.
std::string json_number(double v) {
  return std::isfinite(v) ? exact_number(v) : "null";
}

std::string json_value(const param& p) {
  if (const auto* i = std::get_if<std::int64_t>(&p.value)) return std::to_string(*i);
  if (const auto* d = std::get_if<double>(&p.value)) return json_number(*d);
  return json_string(std::get<std::string>(p.value));
}

// Sizes print as 64KiB in tables; any other value as itself.
std::string table_value(const param& p) {
  if (const auto* i = std::get_if<std::int64_t>(&p.value)) {
    const bool is_size = p.key.ends_with("size") || p.key.ends_with("bytes");
    return is_size && *i > 0 ? size_label(static_cast<std::size_t>(*i)) : std::to_string(*i);
  }
  if (const auto* d = std::get_if<double>(&p.value)) return rounded_number(*d);
  return std::get<std::string>(p.value);
}

void write_json(std::ostream& out, const std::vector<record>& records) {
  out << "[";
  for (std::size_t i = 0; i < records.size(); ++i) {
    const record& r = records[i];
    out << (i == 0 ? "\n  {" : ",\n  {");
    // A skipped record has no value: null, so no tool reads a 0 as a measurement.
    out << "\"suite\": " << json_string(r.suite) << ", \"name\": " << json_string(r.name)
        << ", \"unit\": " << json_string(r.unit)
        << ", \"value\": " << (r.skipped ? "null" : json_number(r.value))
        << ", \"samples\": " << r.samples;
    if (r.p10) out << ", \"p10\": " << json_number(*r.p10);
    if (r.p90) out << ", \"p90\": " << json_number(*r.p90);
    out << ", \"params\": {";
    for (std::size_t k = 0; k < r.params.size(); ++k) {
      out << (k == 0 ? "" : ", ") << json_string(r.params[k].key) << ": "
          << json_value(r.params[k]);
    }
    out << "}";
    if (r.baseline) out << ", \"baseline\": " << json_string(*r.baseline);
    if (r.baseline_value) out << ", \"baseline_value\": " << json_number(*r.baseline_value);
    if (r.ratio) out << ", \"ratio\": " << json_number(*r.ratio);
    if (r.skipped) out << ", \"skipped\": " << json_string(*r.skipped);
    out << "}";
  }
  out << (records.empty() ? "]\n" : "\n]\n");
}

// RFC 4180: quote a field that holds a comma, quote or line break, doubling inner quotes.
std::string csv_field(std::string_view s) {
  if (s.find_first_of(",\"\r\n") == std::string_view::npos) return std::string(s);
  std::string out = "\"";
  for (const char c : s) {
    out += c;
    if (c == '"') out += '"';
  }
  return out + "\"";
}

std::string optional_number(const std::optional<double>& v) {
  return v ? exact_number(*v) : "";
}

void write_csv(std::ostream& out, const std::vector<record>& records) {
  // Params are one column of key=value pairs, so every suite fits the same header.
  out << "suite,name,unit,value,samples,p10,p90,baseline,baseline_value,ratio,params,skipped\n";
  for (const record& r : records) {
    std::string params;
    for (const param& p : r.params) {
      if (!params.empty()) params += ';';
      params += p.key + '=';
      if (const auto* s = std::get_if<std::string>(&p.value)) {
        params += *s;
      } else {
        params += json_value(p);
      }
    }
    out << csv_field(r.suite) << ',' << csv_field(r.name) << ',' << csv_field(r.unit) << ','
        << (r.skipped ? "" : exact_number(r.value)) << ',' << r.samples << ','
        << optional_number(r.p10) << ',' << optional_number(r.p90) << ','
        << csv_field(r.baseline.value_or("")) << ',' << optional_number(r.baseline_value) << ','
        << optional_number(r.ratio) << ',' << csv_field(params) << ','
        << csv_field(r.skipped.value_or("")) << '\n';
  }
}

void write_table(std::ostream& out, const std::vector<record>& records) {
  constexpr std::size_t columns = 10;
  using row = std::array<std::string, columns>;
  // Numbers are right-aligned so their digits line up.
  constexpr std::array<bool, columns> right{false, false, false, true, true,
                                            true,  false, true,  true, true};
  std::vector<row> rows;
  rows.push_back(
      {"suite", "name", "params", "value", "p10", "p90", "unit", "samples", "baseline", "ratio"});
  for (const record& r : records) {
    std::string params;
    for (const param& p : r.params) {
      if (!params.empty()) params += ' ';
      params += p.key + '=' + table_value(p);
    }
    auto opt = [](const std::optional<double>& v) { return v ? rounded_number(*v) : "-"; };
    rows.push_back({r.suite, r.name, params.empty() ? "-" : params,
                    r.skipped ? "skipped" : rounded_number(r.value), opt(r.p10), opt(r.p90), r.unit,
                    std::to_string(r.samples), opt(r.baseline_value), opt(r.ratio)});
  }
  std::array<std::size_t, columns> width{};
  for (const row& w : rows) {
    for (std::size_t c = 0; c < columns; ++c) width[c] = std::max(width[c], w[c].size());
  }
  auto print = [&](const row& w) {
    std::string line;
    for (std::size_t c = 0; c < columns; ++c) {
      const std::string pad(width[c] - w[c].size(), ' ');
      line += c == 0 ? "" : "  ";
      line += right[c] ? pad + w[c] : w[c] + pad;
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    out << line << '\n';
  };
  print(rows[0]);
  std::size_t total = 2 * (columns - 1);
  for (const std::size_t w : width) total += w;
  out << std::string(total, '-') << '\n';
  for (std::size_t i = 1; i < rows.size(); ++i) print(rows[i]);
  // Reasons are sentences: below the table, not in a column.
  for (const record& r : records) {
    if (r.skipped) out << "skipped: " << r.suite << ' ' << r.name << ": " << *r.skipped << '\n';
  }
}

}  // namespace

std::optional<report_format> parse_report_format(std::string_view s) {
  if (s == "table") return report_format::table;
  if (s == "json") return report_format::json;
  if (s == "csv") return report_format::csv;
  return std::nullopt;
}

std::string_view report_format_names() {
  return "table, json, csv";
}

void write_report(std::ostream& out, const std::vector<record>& records, report_format f) {
  switch (f) {
    case report_format::table: write_table(out, records); break;
    case report_format::json: write_json(out, records); break;
    case report_format::csv: write_csv(out, records); break;
  }
}

}  // namespace bench
