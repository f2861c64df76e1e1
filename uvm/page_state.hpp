#pragma once

/// @file
/// The coherence state of one page of a managed range.

#include <cstdint>
#include <string_view>

namespace uvm {

/// @brief Where the valid copies of a page are and who may write it.
///
/// | state            | host copy              | device copy    | CPU access  |
/// |------------------|------------------------|----------------|-------------|
/// | unpopulated      | none (reads as zero)   | none           | faults      |
/// | host_exclusive   | valid, writable        | none or stale  | read, write |
/// | shared           | valid, read-only       | valid or none  | read        |
/// | device_exclusive | stale                  | valid          | faults      |
/// | remote           | valid (device maps it) | none           | read, write |
/// | migrating        | a transition is under way; accesses wait for it       |
enum class page_state : std::uint8_t {
  unpopulated = 0,
  host_exclusive = 1,
  shared = 2,
  device_exclusive = 3,
  remote = 4,
  migrating = 5,
};

/// @return the state's name as written in the table above.
[[nodiscard]] constexpr std::string_view to_string(page_state s) noexcept {
  switch (s) {
    case page_state::unpopulated: return "unpopulated";
    case page_state::host_exclusive: return "host_exclusive";
    case page_state::shared: return "shared";
    case page_state::device_exclusive: return "device_exclusive";
    case page_state::remote: return "remote";
    case page_state::migrating: return "migrating";
  }
  return "invalid";
}

}  // namespace uvm
