#include "host/fault/service/map_budget.hpp"

#include <cstdio>

namespace uvm::detail {

map_budget::map_budget() noexcept : limit_(max_map_count() / 2) {}

map_budget& map_budget::process() noexcept {
  static map_budget budget;
  return budget;
}

namespace {
std::int64_t read_max_map_count() noexcept {
  long long v = 0;
  if (std::FILE* f = std::fopen("/proc/sys/vm/max_map_count", "r")) {
    if (std::fscanf(f, "%lld", &v) != 1) v = 0;
    std::fclose(f);
  }
  return v > 0 ? v : 65530;
}
}  // namespace

std::int64_t map_budget::max_map_count() noexcept {
  // Read once, when the budget is made (before the signal handler is installed): the handler's
  // abort path reports it and must not call fopen.
  static const std::int64_t value = read_max_map_count();
  return value;
}

}  // namespace uvm::detail
