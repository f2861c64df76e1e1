#include <uvm/config.hpp>

#include "host/common/check.hpp"

#include <uvm/detail/current_device.hpp>

#include <algorithm>
#include <array>
#include <charconv>
#include <cstdlib>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <unistd.h>

namespace uvm {

namespace {

template <class Enum, std::size_t N>
Enum parse_enum(const char* var, std::string_view v,
                const std::array<std::pair<std::string_view, Enum>, N>& names) {
  std::string accepted;
  for (const auto& [name, value] : names) {
    if (v == name) return value;
    accepted += accepted.empty() ? "" : ", ";
    accepted += name;
  }
  detail::throw_invalid("uvm: {}='{}' is not one of: {}", var, v, accepted);
}

constexpr std::array<std::pair<std::string_view, backend_kind>, 3> backend_names{
    {{"auto", backend_kind::automatic},
     {"cuda", backend_kind::cuda},
     {"emulated", backend_kind::emulated}}};
constexpr std::array<std::pair<std::string_view, fault_mechanism>, 3> mechanism_names{
    {{"auto", fault_mechanism::automatic},
     {"signal", fault_mechanism::signal},
     {"userfaultfd", fault_mechanism::userfaultfd}}};
constexpr std::array<std::pair<std::string_view, eviction_kind>, 6> eviction_names{
    {{"fifo", eviction_kind::fifo},
     {"lru", eviction_kind::lru},
     {"clock", eviction_kind::clock},
     {"adaptive", eviction_kind::adaptive},
     {"lfu", eviction_kind::lfu},
     {"dueling", eviction_kind::dueling}}};
constexpr std::array<std::pair<std::string_view, prefetch_kind>, 3> prefetch_names{
    {{"none", prefetch_kind::none},
     {"sequential", prefetch_kind::sequential},
     {"tree", prefetch_kind::tree}}};
constexpr std::array<std::pair<std::string_view, log_level>, 7> level_names{
    {{"trace", log_level::trace},
     {"debug", log_level::debug},
     {"info", log_level::info},
     {"warn", log_level::warn},
     {"error", log_level::error},
     {"critical", log_level::critical},
     {"off", log_level::off}}};

template <class Enum, std::size_t N>
std::string_view name_of(Enum e, const std::array<std::pair<std::string_view, Enum>, N>& names) {
  for (const auto& [name, value] : names) {
    if (value == e) return name;
  }
  return "invalid";
}

// "65536", "64K", "64KiB", "2M", "1G" (binary multiples).
std::uint64_t parse_size(const char* var, std::string_view v) {
  std::uint64_t n = 0;
  const auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
  std::string_view suffix(end, static_cast<std::size_t>(v.data() + v.size() - end));
  unsigned shift = 0;
  if (ec == std::errc{} && !suffix.empty()) {
    const char c = static_cast<char>(suffix[0] & ~0x20);  // upper case
    shift = c == 'K' ? 10 : c == 'M' ? 20 : c == 'G' ? 30 : c == 'T' ? 40 : 64;
    suffix.remove_prefix(1);
    if (suffix == "iB" || suffix == "B") suffix = {};
  }
  if (ec != std::errc{} || !suffix.empty() || shift == 64 ||
      (shift > 0 && n >> (64 - shift) != 0)) {
    detail::throw_invalid("uvm: {}='{}' is not a size (bytes, or a number with K, M, G or T)", var,
                          v);
  }
  return n << shift;
}

std::uint64_t parse_count(const char* var, std::string_view v) {
  std::uint64_t n = 0;
  const auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
  if (ec != std::errc{} || end != v.data() + v.size()) {
    detail::throw_invalid("uvm: {}='{}' is not a non-negative integer", var, v);
  }
  return n;
}

// `all` (empty) or a comma-separated list of ordinals such as `0,2`.
std::vector<unsigned> parse_devices(const char* var, std::string_view v) {
  std::vector<unsigned> list;
  if (v == "all") return list;
  while (true) {
    const std::size_t comma = v.find(',');
    const std::uint64_t n = parse_count(var, v.substr(0, comma));
    list.push_back(static_cast<unsigned>(std::min<std::uint64_t>(n, std::uint64_t{1} << 31)));
    if (comma == std::string_view::npos) return list;
    v.remove_prefix(comma + 1);
  }
}

bool parse_flag(const char* var, std::string_view v) {
  UVM_EXPECTS(v == "0" || v == "1", "uvm: {}='{}' is neither 0 nor 1", var, v);
  return v == "1";
}

std::optional<std::string_view> env(const char* var) {
  const char* v = std::getenv(var);
  if (v == nullptr) return std::nullopt;
  return std::string_view(v);
}

}  // namespace

config config::from_env() {
  return from_env(config{});
}

config config::from_env(config c) {
  if (auto v = env("UVM_PAGE_SIZE")) c.page_size = parse_size("UVM_PAGE_SIZE", *v);
  if (auto v = env("UVM_DEVICE_BUDGET")) c.device_budget = parse_size("UVM_DEVICE_BUDGET", *v);
  if (auto v = env("UVM_BACKEND")) c.backend = parse_enum("UVM_BACKEND", *v, backend_names);
  if (auto v = env("UVM_FAULT_MECHANISM")) {
    c.faults = parse_enum("UVM_FAULT_MECHANISM", *v, mechanism_names);
  }
  if (auto v = env("UVM_EVICTION")) c.eviction = parse_enum("UVM_EVICTION", *v, eviction_names);
  if (auto v = env("UVM_PREFETCH")) c.prefetch = parse_enum("UVM_PREFETCH", *v, prefetch_names);
  if (auto v = env("UVM_LOG_LEVEL")) c.log = parse_enum("UVM_LOG_LEVEL", *v, level_names);
  if (auto v = env("UVM_TRACE")) c.trace_path = std::string(*v);
  if (auto v = env("UVM_TIMELINE")) c.timeline_path = std::string(*v);
  if (auto v = env("UVM_DEVICE_MODEL")) c.device_model = std::string(*v);
  if (auto v = env("UVM_THRASHING_MIGRATIONS")) {
    c.thrashing_migrations =
        static_cast<unsigned>(parse_count("UVM_THRASHING_MIGRATIONS", *v) & 0xffffffffu);
  }
  if (auto v = env("UVM_THRASHING_LAPSE_US")) {
    c.thrashing_lapse = std::chrono::microseconds(parse_count("UVM_THRASHING_LAPSE_US", *v));
  }
  if (auto v = env("UVM_PROMOTE_REMOTE")) c.promote_remote = parse_flag("UVM_PROMOTE_REMOTE", *v);
  if (auto v = env("UVM_STATS")) c.print_stats = parse_flag("UVM_STATS", *v);
  if (auto v = env("UVM_FAULT_TIMEOUT_MS")) {
    c.fault_timeout = std::chrono::milliseconds(parse_count("UVM_FAULT_TIMEOUT_MS", *v));
  }
  if (auto v = env("UVM_EMULATED_DEVICES")) {
    c.emulated_devices = static_cast<unsigned>(
        std::min<std::uint64_t>(parse_count("UVM_EMULATED_DEVICES", *v), std::uint64_t{1} << 31));
  }
  if (auto v = env("UVM_EMULATED_WORKERS")) {
    c.emulated_workers = static_cast<unsigned>(
        std::min<std::uint64_t>(parse_count("UVM_EMULATED_WORKERS", *v), std::uint64_t{1} << 31));
  }
  if (auto v = env("UVM_CUDA_DEVICES")) c.cuda_devices = parse_devices("UVM_CUDA_DEVICES", *v);
  c.validate();
  return c;
}

void config::validate() const {
  const auto os_page = static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
  UVM_EXPECTS(page_size != 0 && (page_size & (page_size - 1)) == 0,
              "uvm: page size {} is not a power of two (UVM_PAGE_SIZE)", page_size);
  UVM_EXPECTS(page_size >= os_page, "uvm: page size {} is smaller than the OS page ({} bytes)",
              page_size, os_page);
  UVM_EXPECTS(page_size <= (std::size_t{1} << 30), "uvm: page size {} is larger than 1 GiB",
              page_size);
  UVM_EXPECTS(emulated_devices >= 1 && emulated_devices <= detail::max_devices,
              "uvm: {} emulated devices; between 1 and {} (UVM_EMULATED_DEVICES)", emulated_devices,
              detail::max_devices);
  UVM_EXPECTS(emulated_workers <= 256,
              "uvm: {} emulated workers; at most 256, or 0 for one per hardware thread "
              "(UVM_EMULATED_WORKERS)",
              emulated_workers);
  UVM_EXPECTS(cuda_devices.size() <= detail::max_devices,
              "uvm: {} CUDA devices listed; at most {} (UVM_CUDA_DEVICES)", cuda_devices.size(),
              detail::max_devices);
  for (std::size_t i = 0; i < cuda_devices.size(); ++i) {
    UVM_EXPECTS(cuda_devices[i] < detail::max_native_devices,
                "uvm: CUDA device {} is beyond the {} that device code can tell apart "
                "(UVM_CUDA_DEVICES)",
                cuda_devices[i], detail::max_native_devices);
    for (std::size_t j = 0; j < i; ++j) {
      UVM_EXPECTS(cuda_devices[j] != cuda_devices[i],
                  "uvm: CUDA device {} is listed twice (UVM_CUDA_DEVICES)", cuda_devices[i]);
    }
  }
  UVM_EXPECTS(fault_timeout.count() > 0 && fault_timeout <= std::chrono::hours(1),
              "uvm: fault timeout {} ms is outside 1 ms .. 1 hour (UVM_FAULT_TIMEOUT_MS)",
              fault_timeout.count());
  UVM_EXPECTS(timeline_path.empty() || timeline_path != trace_path,
              "uvm: the timeline and the trace are both to be written to '{}' (UVM_TIMELINE, "
              "UVM_TRACE)",
              timeline_path);
  UVM_EXPECTS(static_cast<unsigned>(backend) <= static_cast<unsigned>(backend_kind::emulated),
              "uvm: backend {} is not a backend_kind", static_cast<unsigned>(backend));
  UVM_EXPECTS(static_cast<unsigned>(faults) <= static_cast<unsigned>(fault_mechanism::userfaultfd),
              "uvm: fault mechanism {} is not a fault_mechanism", static_cast<unsigned>(faults));
  UVM_EXPECTS(static_cast<unsigned>(eviction) <= static_cast<unsigned>(eviction_kind::dueling),
              "uvm: eviction {} is not an eviction_kind", static_cast<unsigned>(eviction));
  UVM_EXPECTS(static_cast<unsigned>(prefetch) <= static_cast<unsigned>(prefetch_kind::tree),
              "uvm: prefetch {} is not a prefetch_kind", static_cast<unsigned>(prefetch));
  UVM_EXPECTS(thrashing_lapse.count() > 0 && thrashing_lapse <= std::chrono::seconds(10),
              "uvm: thrashing lapse {} us is outside 1 us .. 10 s (UVM_THRASHING_LAPSE_US)",
              thrashing_lapse.count());
  UVM_EXPECTS(thrashing_migrations <= 1000,
              "uvm: {} thrashing migrations is more than 1000 (UVM_THRASHING_MIGRATIONS)",
              thrashing_migrations);
  UVM_EXPECTS(static_cast<unsigned>(log) <= static_cast<unsigned>(log_level::off),
              "uvm: log level {} is not a log_level", static_cast<unsigned>(log));
}

std::string_view to_string(backend_kind k) noexcept {
  return name_of(k, backend_names);
}
std::string_view to_string(fault_mechanism m) noexcept {
  return name_of(m, mechanism_names);
}
std::string_view to_string(eviction_kind k) noexcept {
  return name_of(k, eviction_names);
}
std::string_view to_string(prefetch_kind k) noexcept {
  return name_of(k, prefetch_names);
}
std::string_view to_string(log_level l) noexcept {
  return name_of(l, level_names);
}

}  // namespace uvm
