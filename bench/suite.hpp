#pragma once

// The suite registry. Each suite lives in its own .cpp and registers itself with a static
// suite_registration, so adding a suite never touches the CLI.

#include "bench/options.hpp"
#include "bench/record.hpp"

#include <functional>
#include <string>
#include <vector>

namespace bench {

using suite_fn = std::function<std::vector<record>(const options&)>;

struct suite {
  std::string name;
  std::string description;
  suite_fn run;
};

// Every registered suite, sorted by name (registration order across files is unspecified).
[[nodiscard]] const std::vector<suite>& all_suites();

// The suite called `name`, or nullptr.
[[nodiscard]] const suite* find_suite(const std::string& name);

// Define one at namespace scope in a suite's .cpp. The file must be a source of the executable
// itself: a static library would let the linker drop the unreferenced object.
struct suite_registration {
  suite_registration(std::string name, std::string description, suite_fn run);
};

}  // namespace bench
