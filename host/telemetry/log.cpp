#include "host/telemetry/log.hpp"

#include <spdlog/sinks/stdout_color_sinks.h>

namespace uvm::detail {

spdlog::logger& log() {
  // Reuse a logger the application registered under the same name, so it can redirect ours.
  // Never destroyed: the library logs from static destructors and atexit handlers too (the C
  // API's default manager lives until the process ends).
  static const std::shared_ptr<spdlog::logger>* const logger = [] {
    std::shared_ptr<spdlog::logger> l = spdlog::get("uvm");
    if (!l) {
      l = spdlog::stderr_color_mt("uvm");
      l->set_pattern("[%Y-%m-%d %H:%M:%S.%e] [uvm] [%l] %v");
    }
    return new std::shared_ptr<spdlog::logger>(std::move(l));
  }();
  return **logger;
}

void set_log_level(log_level level) {
  log().set_level(static_cast<spdlog::level::level_enum>(static_cast<int>(level)));
}

}  // namespace uvm::detail
