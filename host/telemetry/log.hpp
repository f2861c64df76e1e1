#pragma once

// The library's one logger, spdlog's `uvm`. Never used from the signal handler.

#include <uvm/config.hpp>

#include <spdlog/spdlog.h>

namespace uvm::detail {

/// @return the `uvm` logger (stderr), created on first use.
spdlog::logger& log();

void set_log_level(log_level level);

}  // namespace uvm::detail
