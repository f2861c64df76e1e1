#include "bench/suite.hpp"

#include <algorithm>
#include <utility>

namespace bench {

namespace {

// A function-local static, so registrations from other files' static initialisers find it
// constructed whatever the initialisation order.
std::vector<suite>& registry() {
  static std::vector<suite> suites;
  return suites;
}

}  // namespace

const std::vector<suite>& all_suites() {
  return registry();
}

const suite* find_suite(const std::string& name) {
  for (const suite& s : registry()) {
    if (s.name == name) return &s;
  }
  return nullptr;
}

suite_registration::suite_registration(std::string name, std::string description, suite_fn run) {
  auto& suites = registry();
  const auto at = std::lower_bound(suites.begin(), suites.end(), name,
                                   [](const suite& s, const std::string& n) { return s.name < n; });
  suites.insert(at, suite{std::move(name), std::move(description), std::move(run)});
}

}  // namespace bench
