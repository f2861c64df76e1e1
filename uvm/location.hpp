#pragma once

/// @file
/// uvm::location, where a page can live: the host or a device.

namespace uvm {

/// @brief A destination for prefetch: `location::host()` or `location::device(i)`.
struct location {
  enum class kind : unsigned char { host, device };
  kind where = kind::host;
  int device_index = 0;

  [[nodiscard]] static constexpr location host() noexcept { return {kind::host, 0}; }
  [[nodiscard]] static constexpr location device(int index = 0) noexcept {
    return {kind::device, index};
  }
  [[nodiscard]] constexpr bool is_device() const noexcept { return where == kind::device; }
  friend constexpr bool operator==(const location&, const location&) = default;
};

}  // namespace uvm
