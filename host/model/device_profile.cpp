#include <uvm/device_model.hpp>

#include "host/common/check.hpp"
#include "host/model/json_value.hpp"
#include "host/model/shipped_profiles.hpp"

#include <fmt/ranges.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <fstream>
#include <limits>
#include <sstream>

namespace uvm {

namespace {

using detail::json_value;

const json_value& member(const json_value::object& o, std::string_view key) {
  const auto it = o.find(key);
  UVM_EXPECTS(it != o.end(), "device profile: '{}' is missing", key);
  return it->second;
}

double number(const json_value::object& o, std::string_view key, bool positive = false) {
  const double* d = member(o, key).as_number();
  UVM_EXPECTS(d != nullptr, "device profile: '{}' is not a number", key);
  UVM_EXPECTS(*d >= 0, "device profile: '{}' is negative ({})", key, *d);
  UVM_EXPECTS(!positive || *d > 0, "device profile: '{}' must be above 0", key);
  return *d;
}

unsigned whole(const json_value::object& o, std::string_view key, unsigned low, unsigned high) {
  const double d = number(o, key);
  UVM_EXPECTS(d == std::floor(d) && d >= low && d <= high,
              "device profile: '{}' is {}; a whole number from {} to {}", key, d, low, high);
  return static_cast<unsigned>(d);
}

link_profile read_link(const json_value::object& o, std::string_view key) {
  const json_value::object* l = member(o, key).as_object();
  UVM_EXPECTS(l != nullptr, "device profile: '{}' is not an object", key);
  link_profile p;
  const std::string bw = fmt::format("{}.bandwidth_gbps", key);
  p.latency_us = number(*l, "latency_us");
  const json_value& b = member(*l, "bandwidth_gbps");
  if (const double* d = b.as_number()) {
    UVM_EXPECTS(*d > 0, "device profile: '{}' must be above 0", bw);
    p.bandwidth.emplace_back(1, *d);
    return p;
  }
  const json_value::array* points = b.as_array();
  UVM_EXPECTS(points != nullptr && !points->empty(),
              "device profile: '{}' is neither a number nor a list of [bytes, GB/s] points", bw);
  for (const json_value& pt : *points) {
    const json_value::array* xy = pt.as_array();
    UVM_EXPECTS(xy != nullptr && xy->size() == 2 && (*xy)[0].as_number() != nullptr &&
                    (*xy)[1].as_number() != nullptr,
                "device profile: a point of '{}' is not [bytes, GB/s]", bw);
    const double bytes = *(*xy)[0].as_number();
    const double gbps = *(*xy)[1].as_number();
    UVM_EXPECTS(bytes >= 1 && bytes == std::floor(bytes) && bytes < 0x1p62,
                "device profile: a size in '{}' is not a whole number of bytes ({})", bw, bytes);
    UVM_EXPECTS(gbps > 0, "device profile: a bandwidth in '{}' must be above 0 ({})", bw, gbps);
    UVM_EXPECTS(p.bandwidth.empty() || bytes > static_cast<double>(p.bandwidth.back().first),
                "device profile: the sizes in '{}' must ascend", bw);
    p.bandwidth.emplace_back(static_cast<std::uint64_t>(bytes), gbps);
  }
  return p;
}

std::string text(const json_value::object& o, std::string_view key) {
  const std::string* s = member(o, key).as_string();
  UVM_EXPECTS(s != nullptr, "device profile: '{}' is not a string", key);
  return *s;
}

}  // namespace

double link_profile::gbps(std::uint64_t bytes) const noexcept {
  if (bandwidth.empty()) return std::numeric_limits<double>::infinity();
  if (bytes <= bandwidth.front().first) return bandwidth.front().second;
  if (bytes >= bandwidth.back().first) return bandwidth.back().second;
  const auto hi = std::upper_bound(bandwidth.begin(), bandwidth.end(), bytes,
                                   [](std::uint64_t b, const auto& p) { return b < p.first; });
  const auto lo = hi - 1;
  const double x0 = std::log2(static_cast<double>(lo->first));
  const double x1 = std::log2(static_cast<double>(hi->first));
  const double t = (std::log2(static_cast<double>(bytes)) - x0) / (x1 - x0);
  return lo->second + t * (hi->second - lo->second);
}

std::uint64_t link_profile::copy_ns(std::uint64_t bytes) const noexcept {
  const double ns = latency_us * 1e3 + static_cast<double>(bytes) / gbps(bytes);
  return static_cast<std::uint64_t>(std::llround(ns));
}

device_profile device_profile::parse(std::string_view json) {
  const json_value doc = json_value::parse(json);
  const json_value::object* o = doc.as_object();
  UVM_EXPECTS(o != nullptr, "device profile: the document is not a JSON object");
  static constexpr std::array<std::string_view, 18> known{"name",
                                                          "description",
                                                          "h2d",
                                                          "d2h",
                                                          "d2d",
                                                          "copy_engines",
                                                          "fault_batch_size",
                                                          "fault_batch_us",
                                                          "fault_us",
                                                          "publish_us",
                                                          "line_bytes",
                                                          "remote_gbps",
                                                          "remote_latency_us",
                                                          "memory_gbps",
                                                          "launch_us",
                                                          "cpu_fault_us",
                                                          "sources",
                                                          "$comment"};
  for (const auto& [key, value] : *o) {
    UVM_EXPECTS(std::find(known.begin(), known.end(), key) != known.end(),
                "device profile: unknown field '{}'", key);
  }
  device_profile p;
  p.name = text(*o, "name");
  UVM_EXPECTS(!p.name.empty(), "device profile: 'name' is empty");
  p.description = text(*o, "description");
  p.h2d = read_link(*o, "h2d");
  p.d2h = read_link(*o, "d2h");
  p.d2d = read_link(*o, "d2d");
  p.copy_engines = whole(*o, "copy_engines", 1, 64);
  p.fault_batch_size = whole(*o, "fault_batch_size", 1, 1u << 20);
  p.fault_batch_us = number(*o, "fault_batch_us");
  p.fault_us = number(*o, "fault_us");
  p.publish_us = number(*o, "publish_us");
  p.line_bytes = whole(*o, "line_bytes", 1, 1u << 20);
  p.remote_gbps = number(*o, "remote_gbps", true);
  p.remote_latency_us = number(*o, "remote_latency_us");
  p.memory_gbps = number(*o, "memory_gbps", true);
  p.launch_us = number(*o, "launch_us");
  p.cpu_fault_us = number(*o, "cpu_fault_us");
  return p;
}

std::span<const std::string_view> device_profile::shipped_profiles() noexcept {
  return detail::shipped_profile_names;
}

std::string_view device_profile::shipped_json(std::string_view name) {
  const std::string_view json = detail::shipped_profile_json(name);
  if (json.empty()) {
    detail::throw_invalid("device model: no shipped profile '{}' (shipped: {})", name,
                          fmt::join(shipped_profiles(), ", "));
  }
  return json;
}

device_profile device_profile::shipped(std::string_view name) {
  return parse(shipped_json(name));
}

device_profile device_profile::load(std::string_view name_or_path) {
  if (!detail::shipped_profile_json(name_or_path).empty()) return shipped(name_or_path);
  std::ifstream in{std::string(name_or_path)};
  if (!in) {
    detail::throw_invalid(
        "device model: '{}' is neither a shipped profile ({}) nor a file that can be read",
        name_or_path, fmt::join(shipped_profiles(), ", "));
  }
  std::stringstream text;
  text << in.rdbuf();
  try {
    return parse(text.str());
  } catch (const invalid_argument& e) {
    detail::throw_invalid("{}: {}", name_or_path, e.what());
  }
}

}  // namespace uvm
