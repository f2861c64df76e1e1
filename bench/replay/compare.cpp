#include "bench/replay/compare.hpp"

#include "host/common/check.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <map>
#include <utility>

namespace uvm::replay {
namespace {

std::optional<double> ratio(std::uint64_t value, std::uint64_t base) {
  if (base == 0) return value == 0 ? std::optional<double>(1.0) : std::nullopt;
  return static_cast<double>(value) / static_cast<double>(base);
}

std::string fixed(double v, int digits) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", digits, v);
  return buf;
}

std::string ratio_text(const std::optional<double>& r) {
  return r ? fixed(*r, *r >= 100 ? 0 : *r >= 10 ? 1 : 2) : "-";
}

std::string exact(double v) {
  char buf[32];
  for (int precision = 6; precision <= 17; ++precision) {
    std::snprintf(buf, sizeof buf, "%.*g", precision, v);
    if (std::strtod(buf, nullptr) == v) break;
  }
  return buf;
}

std::string mib(std::uint64_t bytes) {
  return fixed(static_cast<double>(bytes) / double(1 << 20), 1);
}

std::string ms(std::uint64_t ns) {
  return fixed(static_cast<double>(ns) / 1e6, 3);
}

// A policy an online runtime could run (not MIN, nor the static oracle, which know the trace).
bool online(const sim_result& r) {
  return r.eviction != "min" && r.eviction != "a0";
}

std::string json_escape(std::string_view s) {
  std::string out;
  for (const char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned>(c));
      out += buf;
    } else {
      out += c;
    }
  }
  return out;
}

struct counter {
  const char* name;
  std::uint64_t sim_result::*field;
};
constexpr std::array<counter, 13> counters{{
    {"device_faults", &sim_result::device_faults},
    {"cpu_faults", &sim_result::cpu_faults},
    {"migrations_h2d", &sim_result::migrations_h2d},
    {"migrations_d2h", &sim_result::migrations_d2h},
    {"migrations_d2d", &sim_result::migrations_d2d},
    {"bytes_h2d", &sim_result::bytes_h2d},
    {"bytes_d2h", &sim_result::bytes_d2h},
    {"bytes_d2d", &sim_result::bytes_d2d},
    {"evictions", &sim_result::evictions},
    {"prefetched_pages", &sim_result::prefetched_pages},
    {"prefetch_dropped", &sim_result::prefetch_dropped},
    {"thrashing_throttles", &sim_result::thrashing_throttles},
    {"thrashing_pins", &sim_result::thrashing_pins},
}};

void write_table(std::ostream& out, const run_info& info, const std::vector<comparison_row>& rows) {
  const bool several = info.devices > 1;
  out << "trace " << info.trace_name << ": " << info.records << " records, page " << info.page_size
      << " B, budget " << info.budget_pages << " pages (" << mib(info.budget_pages * info.page_size)
      << " MiB)";
  if (several) out << " on each of " << info.devices << " devices";
  out << "\n";
  using line = std::vector<std::string>;
  std::vector<line> lines;
  lines.push_back({"eviction", "prefetch", "dev_faults", "cpu_faults", "mig_h2d", "mig_d2h",
                   "MiB_h2d", "MiB_d2h", "evictions", "prefetched", "throttles", "pins",
                   "bytes/min", "faults/none"});
  // Several devices: the moves between them too.
  if (several) lines.front().insert(lines.front().begin() + 8, {"mig_d2d", "MiB_d2d"});
  for (const std::string& m : info.models) lines.front().push_back("ms_" + m);
  for (const comparison_row& row : rows) {
    const sim_result& r = row.result;
    lines.push_back({r.eviction, r.prefetch, std::to_string(r.device_faults),
                     std::to_string(r.cpu_faults), std::to_string(r.migrations_h2d),
                     std::to_string(r.migrations_d2h), mib(r.bytes_h2d), mib(r.bytes_d2h),
                     std::to_string(r.evictions), std::to_string(r.prefetched_pages),
                     std::to_string(r.thrashing_throttles), std::to_string(r.thrashing_pins),
                     ratio_text(row.bytes_vs_min), ratio_text(row.faults_vs_none)});
    if (several) {
      lines.back().insert(lines.back().begin() + 8,
                          {std::to_string(r.migrations_d2d), mib(r.bytes_d2d)});
    }
    for (const std::uint64_t ns : r.modelled_ns) lines.back().push_back(ms(ns));
  }
  std::vector<std::size_t> width(lines[0].size());
  for (const line& l : lines) {
    for (std::size_t c = 0; c < l.size(); ++c) width[c] = std::max(width[c], l[c].size());
  }
  for (std::size_t i = 0; i < lines.size(); ++i) {
    std::string text;
    for (std::size_t c = 0; c < lines[i].size(); ++c) {
      const std::string pad(width[c] - lines[i][c].size(), ' ');
      if (c > 0) text += "  ";
      text += c < 2 ? lines[i][c] + pad : pad + lines[i][c];  // names left, numbers right
    }
    while (!text.empty() && text.back() == ' ') text.pop_back();
    out << text << '\n';
    if (i == 0) out << std::string(text.size(), '-') << '\n';
  }
  // The online pairs (not MIN, nor the static oracle) that move fewest bytes and take least
  // modelled time.
  const comparison_row* fewest = nullptr;
  for (const comparison_row& row : rows) {
    if (!online(row.result)) continue;
    if (fewest == nullptr || row.result.bytes_moved() < fewest->result.bytes_moved()) fewest = &row;
  }
  if (fewest != nullptr) {
    out << "fewest bytes: " << fewest->result.eviction << " + " << fewest->result.prefetch << " ("
        << mib(fewest->result.bytes_moved()) << " MiB)\n";
  }
  for (std::size_t m = 0; m < info.models.size(); ++m) {
    const comparison_row* fastest = nullptr;
    for (const comparison_row& row : rows) {
      if (!online(row.result) || m >= row.result.modelled_ns.size()) continue;
      if (fastest == nullptr || row.result.modelled_ns[m] < fastest->result.modelled_ns[m]) {
        fastest = &row;
      }
    }
    if (fastest == nullptr) continue;
    out << "fastest on " << info.models[m] << ": " << fastest->result.eviction << " + "
        << fastest->result.prefetch << " (" << ms(fastest->result.modelled_ns[m]) << " ms)\n";
  }
}

void write_json(std::ostream& out, const run_info& info, const std::vector<comparison_row>& rows) {
  out << "{\"trace\": \"" << json_escape(info.trace_name) << "\", \"records\": " << info.records
      << ", \"page_size\": " << info.page_size << ", \"budget_pages\": " << info.budget_pages
      << ", \"devices\": " << info.devices << ", \"rows\": [";
  for (std::size_t i = 0; i < rows.size(); ++i) {
    const sim_result& r = rows[i].result;
    out << (i == 0 ? "\n  {" : ",\n  {") << "\"eviction\": \"" << json_escape(r.eviction)
        << "\", \"prefetch\": \"" << json_escape(r.prefetch) << "\"";
    for (const counter& c : counters) out << ", \"" << c.name << "\": " << r.*(c.field);
    out << ", \"bytes_moved\": " << r.bytes_moved();
    out << ", \"bytes_vs_min\": " << (rows[i].bytes_vs_min ? exact(*rows[i].bytes_vs_min) : "null");
    out << ", \"faults_vs_none\": "
        << (rows[i].faults_vs_none ? exact(*rows[i].faults_vs_none) : "null");
    out << ", \"modelled_ms\": {";
    for (std::size_t m = 0; m < info.models.size() && m < r.modelled_ns.size(); ++m) {
      out << (m == 0 ? "\"" : ", \"") << json_escape(info.models[m])
          << "\": " << exact(static_cast<double>(r.modelled_ns[m]) / 1e6);
    }
    out << "}}";
  }
  out << (rows.empty() ? "]}\n" : "\n]}\n");
}

void write_csv(std::ostream& out, const run_info& info, const std::vector<comparison_row>& rows) {
  out << "eviction,prefetch,budget_pages,page_size";
  for (const counter& c : counters) out << ',' << c.name;
  out << ",bytes_moved,bytes_vs_min,faults_vs_none";
  for (const std::string& m : info.models) out << ",ms_" << m;
  out << '\n';
  for (const comparison_row& row : rows) {
    const sim_result& r = row.result;
    out << r.eviction << ',' << r.prefetch << ',' << r.budget_pages << ',' << r.page_size;
    for (const counter& c : counters) out << ',' << r.*(c.field);
    out << ',' << r.bytes_moved() << ',' << (row.bytes_vs_min ? exact(*row.bytes_vs_min) : "")
        << ',' << (row.faults_vs_none ? exact(*row.faults_vs_none) : "");
    for (const std::uint64_t ns : r.modelled_ns) out << ',' << exact(static_cast<double>(ns) / 1e6);
    out << '\n';
  }
}

}  // namespace

std::vector<comparison_row> compare(const trace& t, const std::vector<std::string>& evictions,
                                    const std::vector<std::string>& prefetches,
                                    std::size_t budget_pages,
                                    const std::vector<device_profile>& models) {
  std::map<std::pair<std::string, std::string>, sim_result> cache;
  auto run = [&](const std::string& ev, const std::string& pf) -> const sim_result& {
    auto it = cache.find({ev, pf});
    if (it == cache.end()) {
      sim_options o;
      o.budget_pages = budget_pages;
      o.eviction = ev;
      o.prefetch = pf;
      o.models = models;
      it = cache.emplace(std::pair{ev, pf}, simulate(t, o)).first;
    }
    return it->second;
  };
  std::vector<comparison_row> rows;
  for (const std::string& pf : prefetches) {
    std::vector<std::string> evs = evictions;
    if (std::find(evs.begin(), evs.end(), "min") == evs.end()) evs.push_back("min");
    for (const std::string& ev : evs) {
      comparison_row row;
      row.result = run(ev, pf);
      row.bytes_vs_min = ratio(row.result.bytes_moved(), run("min", pf).bytes_moved());
      row.faults_vs_none = ratio(row.result.device_faults, run(ev, "none").device_faults);
      rows.push_back(std::move(row));
    }
  }
  return rows;
}

std::optional<output_format> parse_output_format(std::string_view s) {
  if (s == "table") return output_format::table;
  if (s == "json") return output_format::json;
  if (s == "csv") return output_format::csv;
  return std::nullopt;
}

void write_comparison(std::ostream& out, const run_info& info,
                      const std::vector<comparison_row>& rows, output_format f) {
  switch (f) {
    case output_format::table: write_table(out, info, rows); break;
    case output_format::json: write_json(out, info, rows); break;
    case output_format::csv: write_csv(out, info, rows); break;
  }
}

std::size_t parse_budget(std::string_view s, std::uint64_t page_size) {
  std::uint64_t n = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), n);
  UVM_EXPECTS(ec == std::errc{} && end != s.data(),
              "budget '{}' is not PAGES or BYTES with a K, M or G suffix", s);
  std::string_view unit(end, static_cast<std::size_t>(s.data() + s.size() - end));
  if (unit.empty()) {
    UVM_EXPECTS(n > 0, "budget '{}' must be at least one page", s);
    return static_cast<std::size_t>(n);
  }
  std::uint64_t scale = 0;
  const char u = unit.front();
  if (u == 'B' || u == 'b') scale = 1;
  if (u == 'K' || u == 'k') scale = std::uint64_t{1} << 10;
  if (u == 'M' || u == 'm') scale = std::uint64_t{1} << 20;
  if (u == 'G' || u == 'g') scale = std::uint64_t{1} << 30;
  const std::string_view rest = unit.substr(1);
  UVM_EXPECTS(scale != 0 && (rest.empty() || (scale > 1 && (rest == "B" || rest == "iB" ||
                                                            rest == "b" || rest == "ib"))),
              "budget '{}': unknown unit '{}' (use K, M, G, KiB, MiB, GiB or B)", s, unit);
  UVM_EXPECTS(n <= UINT64_MAX / scale, "budget '{}' is too large", s);
  const std::uint64_t pages = n * scale / page_size;
  UVM_EXPECTS(pages > 0, "budget '{}' is less than one {}-byte page", s, page_size);
  return static_cast<std::size_t>(pages);
}

}  // namespace uvm::replay
