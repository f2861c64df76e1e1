#pragma once

// The device model's shipped profiles, as JSON text (the form a profile file has; the sources of
// their values are in docs/device-model.md).

#include <array>
#include <string_view>

namespace uvm::detail {

inline constexpr std::array<std::string_view, 3> shipped_profile_names{"pcie3-1080ti", "h100-pcie5",
                                                                       "gh200-c2c"};

/// @return the JSON text of shipped profile `name`; empty if there is none of that name.
[[nodiscard]] std::string_view shipped_profile_json(std::string_view name) noexcept;

}  // namespace uvm::detail
