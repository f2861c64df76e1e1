#include "bench/replay/trace_io.hpp"

#include "host/common/check.hpp"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <unordered_map>

namespace uvm::replay {
namespace {

constexpr std::size_t header_bytes = sizeof(detail::trace_header);
constexpr std::size_t record_bytes = sizeof(trace_record);

template <class T>
T load_le(const std::byte* p) noexcept {
  std::uint64_t v = 0;
  for (std::size_t i = 0; i < sizeof(T); ++i)
    v |= std::uint64_t{std::to_integer<std::uint8_t>(p[i])} << (8 * i);
  return static_cast<T>(v);
}

template <class T>
void store_le(std::byte* p, T value) noexcept {
  const auto v = static_cast<std::uint64_t>(value);
  for (std::size_t i = 0; i < sizeof(T); ++i) p[i] = static_cast<std::byte>((v >> (8 * i)) & 0xff);
}

bool power_of_two(std::uint64_t v) noexcept {
  return v != 0 && (v & (v - 1)) == 0;
}

const char* kind_name(trace_kind k) noexcept {
  switch (k) {
    case trace_kind::range: return "range";
    case trace_kind::cpu_access: return "cpu_access";
    case trace_kind::device_access: return "device_access";
    case trace_kind::epoch: return "epoch";
  }
  return "?";
}

void check_page_size(std::uint64_t page_size, std::string_view name) {
  UVM_EXPECTS(power_of_two(page_size), "trace '{}': offset 16: page size {} is not a power of two",
              name, page_size);
}

// Validates records in order; shared by validate_trace and parse_trace.
class validator {
 public:
  explicit validator(std::string_view name) : name_(name) {}

  void check(const trace_record& r, std::size_t index) {
    const std::uint64_t off = record_offset(index);
    const auto kind = static_cast<std::uint8_t>(r.kind);
    UVM_EXPECTS(kind <= static_cast<std::uint8_t>(trace_kind::epoch),
                "trace '{}': offset {}: record {}: unknown record kind {}", name_, off, index,
                kind);
    UVM_EXPECTS(r.device < detail::max_devices,
                "trace '{}': offset {}: record {}: device {} (a manager has at most {})", name_,
                off + 2, index, r.device, detail::max_devices);
    switch (r.kind) {
      case trace_kind::range:
        UVM_EXPECTS(r.value > 0, "trace '{}': offset {}: record {}: range {} declares 0 pages",
                    name_, off, index, r.range_id);
        ranges_[r.range_id] = r.value;  // a reused id replaces the freed range
        break;
      case trace_kind::cpu_access:
      case trace_kind::device_access: {
        UVM_EXPECTS(r.access <= 1,
                    "trace '{}': offset {}: record {}: {} has access {} (0 read, 1 write)", name_,
                    off, index, kind_name(r.kind), r.access);
        const auto it = ranges_.find(r.range_id);
        UVM_EXPECTS(it != ranges_.end(),
                    "trace '{}': offset {}: record {}: {} to undeclared range {}", name_, off,
                    index, kind_name(r.kind), r.range_id);
        UVM_EXPECTS(r.page < it->second,
                    "trace '{}': offset {}: record {}: {} to page {} of range {}, which has {} "
                    "pages",
                    name_, off, index, kind_name(r.kind), r.page, r.range_id, it->second);
        break;
      }
      case trace_kind::epoch: break;  // any order: see trace_io.hpp
    }
  }

 private:
  std::string_view name_;
  std::unordered_map<std::uint32_t, std::uint32_t> ranges_;  // id -> pages
};

}  // namespace

void validate_trace(const trace& t, std::string_view name) {
  check_page_size(t.page_size, name);
  validator v(name);
  for (std::size_t i = 0; i < t.records.size(); ++i) v.check(t.records[i], i);
}

trace parse_trace(std::span<const std::byte> bytes, std::string_view name) {
  UVM_EXPECTS(bytes.size() >= header_bytes,
              "trace '{}': offset 0: truncated header ({} bytes, a header is {})", name,
              bytes.size(), header_bytes);
  UVM_EXPECTS(std::memcmp(bytes.data(), detail::trace_magic, sizeof(detail::trace_magic)) == 0,
              "trace '{}': offset 0: bad magic (not a uvm trace; expected \"UVMTRC01\")", name);
  const auto version = load_le<std::uint32_t>(bytes.data() + 8);
  UVM_EXPECTS(version == 1 || version == detail::trace_version,
              "trace '{}': offset 8: unsupported version {} (expected 1 or {})", name, version,
              detail::trace_version);
  trace t;
  t.page_size = load_le<std::uint64_t>(bytes.data() + 16);
  check_page_size(t.page_size, name);

  const std::size_t body = bytes.size() - header_bytes;
  const std::size_t count = body / record_bytes;
  UVM_EXPECTS(body % record_bytes == 0,
              "trace '{}': offset {}: truncated record ({} trailing bytes, a record is {})", name,
              record_offset(count), body % record_bytes, record_bytes);
  t.records.reserve(count);
  validator v(name);
  for (std::size_t i = 0; i < count; ++i) {
    const std::byte* p = bytes.data() + record_offset(i);
    trace_record r{};
    r.kind = static_cast<trace_kind>(load_le<std::uint8_t>(p));
    r.access = load_le<std::uint8_t>(p + 1);
    r.device = version == 1 ? 0 : load_le<std::uint16_t>(p + 2);  // reserved in version 1
    r.range_id = load_le<std::uint32_t>(p + 4);
    r.page = load_le<std::uint32_t>(p + 8);
    r.value = load_le<std::uint32_t>(p + 12);
    v.check(r, i);
    t.records.push_back(r);
  }
  return t;
}

std::vector<std::byte> serialize_trace(const trace& t) {
  validate_trace(t);
  std::vector<std::byte> out(record_offset(t.records.size()));
  const detail::trace_header h = detail::make_trace_header(t.page_size);
  std::memcpy(out.data(), h.magic, sizeof(h.magic));
  store_le(out.data() + 8, h.version);
  store_le(out.data() + 12, h.reserved);
  store_le(out.data() + 16, h.page_size);
  for (std::size_t i = 0; i < t.records.size(); ++i) {
    const trace_record& r = t.records[i];
    std::byte* p = out.data() + record_offset(i);
    store_le(p, static_cast<std::uint8_t>(r.kind));
    store_le(p + 1, r.access);
    store_le(p + 2, r.device);
    store_le(p + 4, r.range_id);
    store_le(p + 8, r.page);
    store_le(p + 12, r.value);
  }
  return out;
}

namespace {
struct file_closer {
  void operator()(std::FILE* f) const noexcept { std::fclose(f); }
};
using file_ptr = std::unique_ptr<std::FILE, file_closer>;
}  // namespace

trace read_trace(const std::string& path) {
  file_ptr f(std::fopen(path.c_str(), "rb"));
  if (!f) detail::throw_system("open trace '" + path + "'", errno);
  std::vector<std::byte> bytes;
  std::byte buf[1 << 16];
  for (;;) {
    const std::size_t n = std::fread(buf, 1, sizeof buf, f.get());
    bytes.insert(bytes.end(), buf, buf + n);
    if (n < sizeof buf) break;
  }
  if (std::ferror(f.get())) detail::throw_system("read trace '" + path + "'", EIO);
  return parse_trace(bytes, path);
}

void write_trace(const std::string& path, const trace& t) {
  validate_trace(t, path);
  const std::vector<std::byte> bytes = serialize_trace(t);
  file_ptr f(std::fopen(path.c_str(), "wb"));
  if (!f) detail::throw_system("create trace '" + path + "'", errno);
  if (std::fwrite(bytes.data(), 1, bytes.size(), f.get()) != bytes.size()) {
    detail::throw_system("write trace '" + path + "'", errno != 0 ? errno : EIO);
  }
  std::FILE* raw = f.release();
  if (std::fclose(raw) != 0) detail::throw_system("close trace '" + path + "'", errno);
}

trace_record range_record(std::uint32_t range_id, std::uint32_t pages) noexcept {
  trace_record r{};
  r.kind = trace_kind::range;
  r.range_id = range_id;
  r.value = pages;
  return r;
}

trace_record device_access(std::uint32_t range_id, std::uint32_t page, bool write,
                           std::uint16_t device) noexcept {
  trace_record r{};
  r.kind = trace_kind::device_access;
  r.access = write ? 1 : 0;
  r.device = device;
  r.range_id = range_id;
  r.page = page;
  return r;
}

trace_record cpu_access(std::uint32_t range_id, std::uint32_t page, bool write) noexcept {
  trace_record r = device_access(range_id, page, write);
  r.kind = trace_kind::cpu_access;
  return r;
}

trace_record epoch_record(std::uint32_t number, std::uint16_t device) noexcept {
  trace_record r{};
  r.kind = trace_kind::epoch;
  r.device = device;
  r.value = number;
  return r;
}

std::uint32_t device_count(const trace& t) noexcept {
  std::uint32_t n = 1;
  for (const trace_record& r : t.records) {
    if (r.kind == trace_kind::device_access || r.kind == trace_kind::epoch) {
      n = std::max<std::uint32_t>(n, r.device + 1u);
    }
  }
  return n;
}

}  // namespace uvm::replay
