#pragma once

// Reading, writing and validating the binary page-access trace (host/telemetry/trace_format.hpp).
//
// Validation (done by parse_trace and read_trace on every input, and by the writers before they
// write, so the generator cannot produce a file the reader rejects). Every error is a
// uvm::invalid_argument whose message names the input and the byte offset of the bad field or
// record ("trace 'x.trc': offset 40: ..."):
//  - header: at least 24 bytes, magic "UVMTRC01", version 1 or 2, page_size a power of two;
//  - the body is a whole number of 16-byte records;
//  - record kind is range, cpu_access, device_access or epoch; its device below 8 (version 1
//    files have no device: every record is read as device 0);
//  - range: at least one page (value), declared before any access to it;
//  - cpu_access / device_access: access is 0 (read) or 1 (write), the range is declared and the
//    page is inside it (the latest declaration of that id).
// Accepted although the format comment might suggest otherwise, because the runtime writes them:
//  - a range id declared again: the migrator reuses the slot (the id) of a freed range and the
//    format has no "free" record, so a second declaration means "the old range is gone, this is
//    a new one" (the simulator drops the old range's pages from the device);
//  - epochs out of order: runtime::launch numbers epochs with fetch_add and pushes them without
//    a lock, so concurrent launches can record epoch 3 before epoch 2. Epochs carry no meaning
//    for the replay beyond being counted.
// Reserved fields are ignored (left for later versions). Files are little-endian; the decoder
// assembles integers byte by byte, so it reads the same on any host.

#include "host/telemetry/trace_format.hpp"

#include <uvm/detail/current_device.hpp>

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace uvm::replay {

using detail::trace_kind;
using detail::trace_record;

/// A whole trace in memory.
struct trace {
  std::uint64_t page_size = 4096;
  std::vector<trace_record> records;
};

/// Byte offset of record `index` in a trace file.
[[nodiscard]] constexpr std::uint64_t record_offset(std::size_t index) noexcept {
  return sizeof(detail::trace_header) + std::uint64_t{sizeof(trace_record)} * index;
}

/// Checks `t` against the rules above. `name` is used in messages.
/// @throws uvm::invalid_argument naming the offset the bad record would have in a file.
void validate_trace(const trace& t, std::string_view name = "<memory>");

/// Decodes and validates a trace file's bytes. @throws uvm::invalid_argument (with the offset).
[[nodiscard]] trace parse_trace(std::span<const std::byte> bytes,
                                std::string_view name = "<memory>");

/// Validates and encodes `t` as a trace file's bytes. @throws uvm::invalid_argument.
[[nodiscard]] std::vector<std::byte> serialize_trace(const trace& t);

/// Reads and validates the file at `path`.
/// @throws uvm::system_error if it cannot be read, uvm::invalid_argument if it is malformed.
[[nodiscard]] trace read_trace(const std::string& path);

/// Validates `t` and writes it to `path` (replacing the file).
/// @throws uvm::invalid_argument if `t` is malformed, uvm::system_error if writing fails.
void write_trace(const std::string& path, const trace& t);

/// Record builders, for generators and tests.
[[nodiscard]] trace_record range_record(std::uint32_t range_id, std::uint32_t pages) noexcept;
[[nodiscard]] trace_record device_access(std::uint32_t range_id, std::uint32_t page,
                                         bool write = false, std::uint16_t device = 0) noexcept;
[[nodiscard]] trace_record cpu_access(std::uint32_t range_id, std::uint32_t page,
                                      bool write = false) noexcept;
[[nodiscard]] trace_record epoch_record(std::uint32_t number, std::uint16_t device = 0) noexcept;

/// The devices `t` names: one more than the highest device of its device accesses and epochs.
[[nodiscard]] std::uint32_t device_count(const trace& t) noexcept;

}  // namespace uvm::replay
