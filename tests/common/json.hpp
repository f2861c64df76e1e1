#pragma once

// A small strict JSON reader for tests that check what the library writes (the timeline):
// objects, arrays, strings (escapes included), numbers, true, false, null. Throws
// std::runtime_error with the offset of the first thing that is not JSON.

#include <cstddef>
#include <cstdlib>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace uvm::testing {

struct json {
  using array = std::vector<json>;
  using object = std::map<std::string, json>;
  std::variant<std::nullptr_t, bool, double, std::string, std::shared_ptr<array>,
               std::shared_ptr<object>>
      value;

  [[nodiscard]] bool is_object() const { return value.index() == 5; }
  [[nodiscard]] bool is_array() const { return value.index() == 4; }
  [[nodiscard]] bool is_string() const { return value.index() == 3; }
  [[nodiscard]] bool is_number() const { return value.index() == 2; }
  [[nodiscard]] const object& obj() const { return *std::get<5>(value); }
  [[nodiscard]] const array& arr() const { return *std::get<4>(value); }
  [[nodiscard]] const std::string& str() const { return std::get<3>(value); }
  [[nodiscard]] double num() const { return std::get<2>(value); }
  [[nodiscard]] bool has(const std::string& key) const {
    return is_object() && obj().contains(key);
  }
  /// The member `key` of an object. @throws std::out_of_range if absent.
  [[nodiscard]] const json& operator[](const std::string& key) const { return obj().at(key); }
};

class json_parser {
 public:
  explicit json_parser(std::string_view text) : s_(text) {}

  /// @throws std::runtime_error if the text is not one JSON value (whitespace around it).
  json parse() {
    json v = value();
    skip();
    if (i_ != s_.size()) fail("text after the value");
    return v;
  }

 private:
  [[noreturn]] void fail(const char* what) const {
    throw std::runtime_error(std::string("not JSON at offset ") + std::to_string(i_) + ": " + what);
  }
  void skip() {
    while (i_ < s_.size() &&
           (s_[i_] == ' ' || s_[i_] == '\n' || s_[i_] == '\r' || s_[i_] == '\t')) {
      ++i_;
    }
  }
  bool eat(char c) {
    skip();
    if (i_ < s_.size() && s_[i_] == c) {
      ++i_;
      return true;
    }
    return false;
  }
  void expect(char c) {
    if (!eat(c)) fail("unexpected character");
  }
  bool word(std::string_view w) {
    if (s_.substr(i_, w.size()) != w) return false;
    i_ += w.size();
    return true;
  }
  json value() {
    skip();
    if (i_ >= s_.size()) fail("end of text");
    const char c = s_[i_];
    if (c == '{') return object();
    if (c == '[') return array();
    if (c == '"') return json{string()};
    if (word("true")) return json{true};
    if (word("false")) return json{false};
    if (word("null")) return json{nullptr};
    return number();
  }
  json object() {
    expect('{');
    auto o = std::make_shared<json::object>();
    if (eat('}')) return json{o};
    do {
      skip();
      std::string key = string();
      expect(':');
      if (!o->emplace(std::move(key), value()).second) fail("duplicate key");
    } while (eat(','));
    expect('}');
    return json{o};
  }
  json array() {
    expect('[');
    auto a = std::make_shared<json::array>();
    if (eat(']')) return json{a};
    do {
      a->push_back(value());
    } while (eat(','));
    expect(']');
    return json{a};
  }
  std::string string() {
    if (i_ >= s_.size() || s_[i_] != '"') fail("expected a string");
    ++i_;
    std::string out;
    while (i_ < s_.size() && s_[i_] != '"') {
      const char c = s_[i_++];
      if (static_cast<unsigned char>(c) < 0x20) fail("control character in a string");
      if (c != '\\') {
        out += c;
        continue;
      }
      if (i_ >= s_.size()) fail("end of text in an escape");
      const char e = s_[i_++];
      switch (e) {
        case '"':
        case '\\':
        case '/': out += e; break;
        case 'n': out += '\n'; break;
        case 't': out += '\t'; break;
        case 'r': out += '\r'; break;
        case 'b': out += '\b'; break;
        case 'f': out += '\f'; break;
        case 'u': {
          if (i_ + 4 > s_.size()) fail("short \\u escape");
          const unsigned long cp = std::strtoul(std::string(s_.substr(i_, 4)).c_str(), nullptr, 16);
          i_ += 4;
          out += cp < 0x80 ? static_cast<char>(cp) : '?';
          break;
        }
        default: fail("bad escape");
      }
    }
    if (i_ >= s_.size()) fail("unterminated string");
    ++i_;
    return out;
  }
  json number() {
    const std::size_t start = i_;
    if (i_ < s_.size() && s_[i_] == '-') ++i_;
    const auto digits = [&] {
      const std::size_t from = i_;
      while (i_ < s_.size() && s_[i_] >= '0' && s_[i_] <= '9') ++i_;
      return i_ > from;
    };
    if (!digits()) fail("expected a value");
    if (i_ < s_.size() && s_[i_] == '.') {
      ++i_;
      if (!digits()) fail("digits after '.'");
    }
    if (i_ < s_.size() && (s_[i_] == 'e' || s_[i_] == 'E')) {
      ++i_;
      if (i_ < s_.size() && (s_[i_] == '+' || s_[i_] == '-')) ++i_;
      if (!digits()) fail("digits in an exponent");
    }
    return json{std::strtod(std::string(s_.substr(start, i_ - start)).c_str(), nullptr)};
  }

  std::string_view s_;
  std::size_t i_ = 0;
};

[[nodiscard]] inline json parse_json(std::string_view text) {
  return json_parser(text).parse();
}

}  // namespace uvm::testing
