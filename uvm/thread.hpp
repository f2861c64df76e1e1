#pragma once

/// @file
/// Per-thread setup for fault handling.

namespace uvm {

/// @brief Gives the calling thread an alternate signal stack (sigaltstack) if it has none, so
/// faults taken near the end of its stack, and handlers chained behind uvm's, still run.
/// The stack is freed when the thread exits. The thread that constructs a manager gets one
/// automatically; call this at the start of other threads that touch managed memory with deep
/// stacks. Idempotent and cheap after the first call.
/// @throws uvm::out_of_memory if the stack cannot be mapped.
void install_alt_stack();

}  // namespace uvm
