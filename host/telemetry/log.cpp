#include "host/telemetry/log.hpp"

#include <spdlog/sinks/stdout_color_sinks.h>

namespace uvm::detail {

spdlog::logger& log() {
  // Reuse a logger the application registered under the same name, so it can redirect ours.
  static std::shared_ptr<spdlog::logger> logger = [] {
    if (auto existing = spdlog::get("uvm")) return existing;
    auto l = spdlog::stderr_color_mt("uvm");
    l->set_pattern("[%Y-%m-%d %H:%M:%S.%e] [uvm] [%l] %v");
    return l;
  }();
  return *logger;
}

void set_log_level(log_level level) {
  log().set_level(static_cast<spdlog::level::level_enum>(static_cast<int>(level)));
}

}  // namespace uvm::detail
