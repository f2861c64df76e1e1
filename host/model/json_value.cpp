#include "host/model/json_value.hpp"

#include "host/common/check.hpp"

#include <cctype>
#include <charconv>
#include <cmath>

namespace uvm::detail {

namespace {

class reader {
 public:
  explicit reader(std::string_view text) : s_(text) {}

  json_value document() {
    json_value v = value(0);
    skip();
    if (i_ != s_.size()) fail("text after the document");
    return v;
  }

 private:
  [[noreturn]] void fail(std::string_view what) const {
    std::size_t line = 1;
    std::size_t column = 1;
    for (std::size_t k = 0; k < i_ && k < s_.size(); ++k) {
      column = s_[k] == '\n' ? 1 : column + 1;
      line += s_[k] == '\n' ? 1 : 0;
    }
    throw_invalid("JSON: {} at line {}, column {}", what, line, column);
  }
  void skip() {
    while (i_ < s_.size() &&
           (s_[i_] == ' ' || s_[i_] == '\t' || s_[i_] == '\n' || s_[i_] == '\r')) {
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
    if (!eat(c)) fail(std::string("expected '") + c + "'");
  }
  bool word(std::string_view w) {
    if (s_.substr(i_, w.size()) != w) return false;
    i_ += w.size();
    return true;
  }

  json_value value(int depth) {
    if (depth > 64) fail("nesting deeper than 64");
    skip();
    if (i_ >= s_.size()) fail("unexpected end");
    const char c = s_[i_];
    if (c == '{') return {object(depth)};
    if (c == '[') return {array(depth)};
    if (c == '"') return {string()};
    if (word("true")) return {true};
    if (word("false")) return {false};
    if (word("null")) return {nullptr};
    return {number()};
  }
  json_value::object object(int depth) {
    ++i_;
    json_value::object o;
    if (eat('}')) return o;
    do {
      skip();
      if (i_ >= s_.size() || s_[i_] != '"') fail("expected a member name");
      std::string key = string();
      expect(':');
      json_value v = value(depth + 1);
      if (!o.emplace(key, std::move(v)).second) fail("member '" + key + "' given twice");
    } while (eat(','));
    expect('}');
    return o;
  }
  json_value::array array(int depth) {
    ++i_;
    json_value::array a;
    if (eat(']')) return a;
    do {
      a.push_back(value(depth + 1));
    } while (eat(','));
    expect(']');
    return a;
  }
  std::string string() {
    ++i_;  // the opening quote
    std::string out;
    while (i_ < s_.size() && s_[i_] != '"') {
      char c = s_[i_++];
      if (static_cast<unsigned char>(c) < 0x20) fail("a control character in a string");
      if (c == '\\') {
        if (i_ >= s_.size()) break;
        const char e = s_[i_++];
        switch (e) {
          case 'n': c = '\n'; break;
          case 't': c = '\t'; break;
          case 'r': c = '\r'; break;
          case 'b': c = '\b'; break;
          case 'f': c = '\f'; break;
          case 'u': out += "\\u"; continue;
          case '"':
          case '\\':
          case '/': c = e; break;
          default: fail("a bad escape in a string");
        }
      }
      out += c;
    }
    if (i_ >= s_.size()) fail("a string without its closing quote");
    ++i_;
    return out;
  }
  double number() {
    const std::size_t start = i_;
    while (i_ < s_.size() &&
           (std::isdigit(static_cast<unsigned char>(s_[i_])) != 0 || s_[i_] == '-' ||
            s_[i_] == '+' || s_[i_] == '.' || s_[i_] == 'e' || s_[i_] == 'E')) {
      ++i_;
    }
    double d = 0;
    const auto [end, ec] = std::from_chars(s_.data() + start, s_.data() + i_, d);
    if (start == i_ || ec != std::errc{} || end != s_.data() + i_ || !std::isfinite(d)) {
      i_ = start;
      fail("expected a value");
    }
    return d;
  }

  std::string_view s_;
  std::size_t i_ = 0;
};

}  // namespace

json_value json_value::parse(std::string_view text) {
  return reader(text).document();
}

}  // namespace uvm::detail
