#pragma once

// Picks the fault mechanism a manager asked for and returns the process's instance of it.

#include "host/memory/view_protection.hpp"

#include <uvm/config.hpp>

#include <memory>

namespace uvm::detail {

/// `signal` and `userfaultfd` are taken as asked (@throws uvm::error if userfaultfd is
/// unavailable, saying why); `automatic` takes userfaultfd where this process may use it and
/// falls back to signal otherwise, with one info log line per process saying why.
[[nodiscard]] std::shared_ptr<view_protection> acquire_fault_source(fault_mechanism requested);

}  // namespace uvm::detail
