#pragma once

// A JSON document read into a tree, for the device model's profiles: objects, arrays, numbers,
// strings, true, false and null (RFC 8259; strings' \u escapes are kept as written). Small
// documents only: it is recursive, up to 64 levels deep.

#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace uvm::detail {

struct json_value {
  using object = std::map<std::string, json_value, std::less<>>;
  using array = std::vector<json_value>;
  std::variant<std::nullptr_t, bool, double, std::string, array, object> v;

  /// @throws uvm::invalid_argument saying where the text stops being JSON.
  [[nodiscard]] static json_value parse(std::string_view text);

  [[nodiscard]] const object* as_object() const noexcept { return std::get_if<object>(&v); }
  [[nodiscard]] const array* as_array() const noexcept { return std::get_if<array>(&v); }
  [[nodiscard]] const double* as_number() const noexcept { return std::get_if<double>(&v); }
  [[nodiscard]] const std::string* as_string() const noexcept {
    return std::get_if<std::string>(&v);
  }
};

}  // namespace uvm::detail
