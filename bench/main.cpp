// uvm-bench: runs the registered suites and prints their records as a table, JSON or CSV.

#include "bench/options.hpp"
#include "bench/progress.hpp"
#include "bench/report.hpp"
#include "bench/suite.hpp"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <fstream>
#include <iostream>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace {

// Exit codes: 0 success, 1 a suite or the output failed, 2 a usage error.
constexpr int exit_failure = 1;
constexpr int exit_usage = 2;

struct command_line {
  std::vector<const bench::suite*> suites;  // empty: all
  bench::options opt;
  bench::report_format format = bench::report_format::table;
  std::optional<std::string> output;
  bool list = false;
  bool help = false;
};

std::string suite_names() {
  std::string s;
  for (const bench::suite& su : bench::all_suites()) s += (s.empty() ? "" : ", ") + su.name;
  return s.empty() ? "(none)" : s;
}

void print_usage(std::ostream& out) {
  out << "usage: uvm-bench [SUITE...] [--format table|json|csv] [--quick] [--list]\n"
         "                 [--output FILE] [--trace-dir DIR] [--scale N]\n"
         "                 [--allow-managed-oversubscription] [--help]\n"
         "\n"
         "Runs the named suites (all of them if none is named) and prints one record per\n"
         "measurement.\n"
         "\n"
         "  --format F     output format: "
      << bench::report_format_names()
      << " (default: table)\n"
         "  --quick        fewer samples, so a whole run takes a few seconds\n"
         "  --list         list the suites and exit\n"
         "  --output FILE  write the report to FILE instead of stdout\n"
         "  --trace-dir DIR\n"
         "                 workloads: record each run's page-access trace in DIR, for uvm-replay\n"
         "  --scale N      workloads: their size, 1 (a few MiB each) and up (default 3, 1 with\n"
         "                 --quick)\n"
         "  --allow-managed-oversubscription\n"
         "                 um-compare: also run cudaMallocManaged past the GPU's free memory\n"
         "                 (1.5x pattern); this can hang the GPU, so it is skipped by default\n"
         "  --help         show this help and exit\n"
         "\n"
         "While a suite runs longer than a second, a progress line shows on stderr if it is a\n"
         "terminal.\n"
         "\n"
         "suites:\n";
  std::size_t width = 0;
  for (const bench::suite& s : bench::all_suites()) width = std::max(width, s.name.size());
  // Each description wrapped to 80 columns, under the others.
  const std::size_t indent = width + 4;
  for (const bench::suite& s : bench::all_suites()) {
    out << "  " << s.name << std::string(width - s.name.size() + 2, ' ');
    std::size_t column = indent;
    std::string_view rest = s.description;
    while (!rest.empty()) {
      const std::size_t space = rest.find(' ');
      const std::string_view word = rest.substr(0, space);
      rest = space == std::string_view::npos ? std::string_view() : rest.substr(space + 1);
      if (column > indent && column + 1 + word.size() > 80) {
        out << "\n" << std::string(indent, ' ');
        column = indent;
      } else if (column > indent) {
        out << ' ';
        ++column;
      }
      out << word;
      column += word.size();
    }
    out << "\n";
  }
}

[[noreturn]] void usage_error(const std::string& message) {
  std::cerr << "uvm-bench: " << message << "\n"
            << "try 'uvm-bench --help' for usage\n";
  std::exit(exit_usage);
}

// Accepts both "--opt VALUE" and "--opt=VALUE".
std::optional<std::string> option_value(std::string_view arg, std::string_view name, int& i,
                                        int argc, char** argv) {
  if (arg == name) {
    if (i + 1 >= argc) usage_error("option '" + std::string(name) + "' needs a value");
    return std::string(argv[++i]);
  }
  if (arg.size() > name.size() && arg.starts_with(name) && arg[name.size()] == '=') {
    return std::string(arg.substr(name.size() + 1));
  }
  return std::nullopt;
}

command_line parse(int argc, char** argv) {
  command_line cl;
  bool only_suites = false;  // after "--", everything is a suite name
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (!only_suites && arg.starts_with("-")) {
      if (arg == "--") {
        only_suites = true;
      } else if (arg == "--help" || arg == "-h") {
        cl.help = true;
      } else if (arg == "--list") {
        cl.list = true;
      } else if (arg == "--quick") {
        cl.opt.quick = true;
      } else if (arg == "--allow-managed-oversubscription") {
        cl.opt.allow_managed_oversubscription = true;
      } else if (auto f = option_value(arg, "--format", i, argc, argv)) {
        const auto parsed = bench::parse_report_format(*f);
        if (!parsed) {
          usage_error("unknown format '" + *f +
                      "'; valid formats: " + std::string(bench::report_format_names()));
        }
        cl.format = *parsed;
      } else if (auto o = option_value(arg, "--output", i, argc, argv)) {
        if (o->empty()) usage_error("option '--output' needs a file name");
        cl.output = *o;
      } else if (auto d = option_value(arg, "--trace-dir", i, argc, argv)) {
        if (d->empty()) usage_error("option '--trace-dir' needs a directory");
        cl.opt.trace_dir = *d;
      } else if (auto n = option_value(arg, "--scale", i, argc, argv)) {
        char* end = nullptr;
        const unsigned long v = std::strtoul(n->c_str(), &end, 10);
        if (n->empty() || *end != '\0' || v < 1 || v > 64) {
          usage_error("option '--scale' needs a whole number from 1 to 64, not '" + *n + "'");
        }
        cl.opt.scale = static_cast<unsigned>(v);
      } else {
        usage_error("unknown option '" + std::string(arg) +
                    "'; valid options: --format, --quick, --list, --output, --trace-dir, "
                    "--scale, --allow-managed-oversubscription, --help");
      }
      continue;
    }
    const bench::suite* s = bench::find_suite(std::string(arg));
    if (s == nullptr) {
      usage_error("unknown suite '" + std::string(arg) + "'; valid suites: " + suite_names());
    }
    if (std::find(cl.suites.begin(), cl.suites.end(), s) == cl.suites.end()) {
      cl.suites.push_back(s);
    }
  }
  if (cl.suites.empty()) {
    for (const bench::suite& s : bench::all_suites()) cl.suites.push_back(&s);
  }
  return cl;
}

}  // namespace

int main(int argc, char** argv) {
  const command_line cl = parse(argc, argv);
  if (cl.help) {
    print_usage(std::cout);
    return 0;
  }
  if (cl.list) {
    std::size_t width = 0;
    for (const bench::suite& s : bench::all_suites()) width = std::max(width, s.name.size());
    for (const bench::suite& s : bench::all_suites()) {
      std::cout << s.name << std::string(width - s.name.size() + 2, ' ') << s.description << "\n";
    }
    return 0;
  }

  // Open the output first, so a bad path fails before minutes of measuring.
  std::ofstream file;
  if (cl.output) {
    file.open(*cl.output);
    if (!file) {
      std::perror(("uvm-bench: cannot open " + *cl.output).c_str());
      return exit_failure;
    }
  }
  std::ostream& out = cl.output ? static_cast<std::ostream&>(file) : std::cout;

  // A failing suite is reported and skipped; the others still print.
  int status = 0;
  std::vector<bench::record> records;
  for (std::size_t i = 0; i < cl.suites.size(); ++i) {
    const bench::suite* s = cl.suites[i];
    try {
      const bench::progress_line line("uvm-bench: [" + std::to_string(i + 1) + "/" +
                                      std::to_string(cl.suites.size()) + "] " + s->name);
      std::vector<bench::record> r = s->run(cl.opt);
      records.insert(records.end(), std::make_move_iterator(r.begin()),
                     std::make_move_iterator(r.end()));
    } catch (const std::exception& e) {
      std::cerr << "uvm-bench: suite " << s->name << " failed: " << e.what() << "\n";
      status = exit_failure;
    }
  }

  bench::write_report(out, records, cl.format);
  out.flush();
  if (!out) {
    std::cerr << "uvm-bench: writing the report failed\n";
    return exit_failure;
  }
  return status;
}
