#pragma once

// Raising the public exceptions with a formatted message. fmt comes with spdlog.

#include <uvm/error.hpp>

#include <cerrno>
#include <cstring>
#include <string>

#include <fmt/format.h>

namespace uvm::detail {

template <class... Args>
[[noreturn]] void throw_invalid(fmt::format_string<Args...> f, Args&&... args) {
  throw invalid_argument(fmt::format(f, std::forward<Args>(args)...));
}

/// Throws uvm::system_error (or uvm::out_of_memory for ENOMEM) for `call`, which set `err`.
[[noreturn]] inline void throw_system(const std::string& call, int err) {
  std::string what = fmt::format("{} failed: {}", call, std::strerror(err));
  if (err == ENOMEM) throw out_of_memory(what);
  throw system_error(what, err);
}

}  // namespace uvm::detail

/// Precondition on the caller's input: throws uvm::invalid_argument with the formatted message.
#define UVM_EXPECTS(cond, ...)                              \
  do {                                                      \
    if (!(cond)) ::uvm::detail::throw_invalid(__VA_ARGS__); \
  } while (false)
