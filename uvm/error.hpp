#pragma once

/// @file
/// The exceptions the library throws. Every public call that can fail throws a type derived from
/// uvm::error; `what()` names the call, the address or size involved and the state found.

#include <stdexcept>
#include <string>

namespace uvm {

/// @brief Base of every exception thrown by the library.
class error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// @brief The caller broke a precondition: a zero or absurd size, a pointer outside every range,
/// a double free, a malformed configuration value. Nothing was changed.
class invalid_argument : public error {
 public:
  using error::error;
};

/// @brief Host memory, device memory or address space could not be obtained.
class out_of_memory : public error {
 public:
  using error::error;
};

/// @brief A kernel's access to managed memory could not be served within the fault timeout;
/// the access was dropped. Thrown by uvm::manager::synchronize; the message names the page and
/// the range.
class device_fault : public error {
 public:
  using error::error;
};

/// @brief Device work, or work a call waits for, did not finish within the call's time limit.
class timeout : public error {
 public:
  using error::error;
};

/// @brief A system call failed; `code()` is its errno.
class system_error : public error {
 public:
  system_error(const std::string& what, int code) : error(what), code_(code) {}
  /// @return the errno value reported by the failing call.
  [[nodiscard]] int code() const noexcept { return code_; }

 private:
  int code_;
};

/// @brief A CUDA runtime call failed; `code()` is its cudaError_t value.
class cuda_error : public error {
 public:
  cuda_error(const std::string& what, int code) : error(what), code_(code) {}
  /// @return the cudaError_t value, as an int so this header needs no CUDA include.
  [[nodiscard]] int code() const noexcept { return code_; }

 private:
  int code_;
};

}  // namespace uvm
