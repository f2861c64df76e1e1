#pragma once

// An event of the emulated device: a completion that the recording stream's thread marks once
// everything enqueued before it has finished.

#include "host/backend/backend.hpp"
#include "host/backend/emulated/completion.hpp"

namespace uvm::detail {

class emulated_event final : public event_base {
 public:
  completion done;
};

}  // namespace uvm::detail
