#pragma once

/// @file
/// Internals of the C API (uvm/uvm.h) that C++ code and tests may use: the process-wide default
/// manager behind the C calls, and the translation of exceptions into uvmError_t.

#include <uvm/uvm.h>
#include <uvm/manager.hpp>

#include <exception>

namespace uvm::capi {

/// @brief Which kind of call raised the exception being translated.
enum class origin {
  call,         ///< an ordinary entry point
  synchronize,  ///< uvmStreamSynchronize / uvmDeviceSynchronize: a plain uvm::error is a fault
  init,         ///< creating the default manager
};

/// @brief The process-wide manager behind the C API, created on first use with
/// config::from_env() (thread-safe; a failed creation is retried by the next call).
/// @throws whatever uvm::manager's constructor throws.
[[nodiscard]] manager& default_manager();

/// @brief The uvmError_t for an exception thrown in a call of kind `where`:
/// uvm::invalid_argument → uvmErrorInvalidValue, uvm::out_of_memory → uvmErrorMemoryAllocation,
/// a plain uvm::error saying the work "did not finish" → uvmErrorTimeout, any other plain
/// uvm::error from a synchronize → uvmErrorDeviceFault, anything during init →
/// uvmErrorInitializationError, everything else → uvmErrorUnknown.
[[nodiscard]] uvmError_t code_of(const std::exception_ptr& e, origin where) noexcept;

}  // namespace uvm::capi
