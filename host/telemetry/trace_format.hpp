#pragma once

// The compact binary page-access trace: what the runtime records and what uvm-replay reads.
// A file is one trace_header followed by trace_records, little-endian, 16 bytes each.
//
//   range          declares range `range_id` with `value` pages (before any access to it)
//   cpu_access     the CPU touched `page` of `range_id` (access: 0 read, 1 write)
//   device_access  a kernel on `device` touched `page` of `range_id` (access 1: the page is
//                  dirty on that device); recorded when its kernels end, the pages of each range
//                  in order
//   epoch          a kernel launch on `device`; `value` is the epoch number (ascending)
//
// Version 2 names the device (0 .. 7, as the manager numbers them); version 1 had the field
// reserved, written 0, and is read as device 0.

#include <cstdint>
#include <cstring>

namespace uvm::detail {

inline constexpr char trace_magic[8] = {'U', 'V', 'M', 'T', 'R', 'C', '0', '1'};

inline constexpr std::uint32_t trace_version = 2;

struct trace_header {
  char magic[8];
  std::uint32_t version;  ///< trace_version (1 is read too)
  std::uint32_t reserved;
  std::uint64_t page_size;  ///< bytes per page, the same for every range of the trace
};

enum class trace_kind : std::uint8_t { range = 0, cpu_access = 1, device_access = 2, epoch = 3 };

struct trace_record {
  trace_kind kind;
  std::uint8_t access;   ///< 0 read, 1 write (accesses only)
  std::uint16_t device;  ///< device_access, epoch: the device; 0 otherwise
  std::uint32_t range_id;
  std::uint32_t page;
  std::uint32_t value;  ///< page count (range), epoch number (epoch)
};

static_assert(sizeof(trace_header) == 24);
static_assert(sizeof(trace_record) == 16);

[[nodiscard]] inline trace_header make_trace_header(std::uint64_t page_size) noexcept {
  trace_header h{};
  std::memcpy(h.magic, trace_magic, sizeof(h.magic));
  h.version = trace_version;
  h.page_size = page_size;
  return h;
}

}  // namespace uvm::detail
