#include "bench/replay/trace_io.hpp"

#include "bench/replay/compare.hpp"
#include "bench/replay/generator.hpp"

#include <uvm/error.hpp>

#include <gtest/gtest.h>

#include <unistd.h>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

namespace uvm::replay {
namespace {

bool same(const trace_record& a, const trace_record& b) {
  return a.kind == b.kind && a.access == b.access && a.device == b.device &&
         a.range_id == b.range_id && a.page == b.page && a.value == b.value;
}

void expect_same(const trace& a, const trace& b) {
  EXPECT_EQ(a.page_size, b.page_size);
  ASSERT_EQ(a.records.size(), b.records.size());
  for (std::size_t i = 0; i < a.records.size(); ++i) {
    EXPECT_TRUE(same(a.records[i], b.records[i])) << "record " << i;
  }
}

trace small_trace() {
  trace t;
  t.page_size = 65536;
  t.records = {range_record(3, 8),        epoch_record(0),
               device_access(3, 0, true), device_access(3, 7),
               cpu_access(3, 0, true),    range_record(9, 1),
               epoch_record(4, 2),        device_access(9, 0, false, 2),
               cpu_access(9, 0)};
  return t;
}

std::string temp_path(const char* name) {
  return (std::filesystem::temp_directory_path() /
          (std::string("uvm_replay_") + std::to_string(::getpid()) + "_" + name))
      .string();
}

/// Parses `bytes` expecting a rejection whose message names `offset`.
void expect_rejected(const std::vector<std::byte>& bytes, std::uint64_t offset,
                     const std::string& words) {
  try {
    (void)parse_trace(bytes, "bad.trc");
    ADD_FAILURE() << "accepted a malformed trace (" << words << ")";
  } catch (const uvm::invalid_argument& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("trace 'bad.trc': offset " + std::to_string(offset) + ":"),
              std::string::npos)
        << what;
    EXPECT_NE(what.find(words), std::string::npos) << what;
  }
}

void put32(std::vector<std::byte>& b, std::size_t at, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) b[at + i] = static_cast<std::byte>(v >> (8 * i));
}

TEST(TraceIo, HeaderMatchesTheFormat) {
  const std::vector<std::byte> b = serialize_trace(small_trace());
  ASSERT_EQ(b.size(), 24u + 16u * 9u);
  EXPECT_EQ(std::memcmp(b.data(), "UVMTRC01", 8), 0);
  EXPECT_EQ(std::to_integer<int>(b[8]), 2);       // version, little-endian
  EXPECT_EQ(std::to_integer<int>(b[16 + 2]), 1);  // 65536 = 0x10000
  // Record 2 (device write of page 0, range 3): kind 2, access 1, range 3 at +4.
  EXPECT_EQ(std::to_integer<int>(b[record_offset(2)]), 2);
  EXPECT_EQ(std::to_integer<int>(b[record_offset(2) + 1]), 1);
  EXPECT_EQ(std::to_integer<int>(b[record_offset(2) + 4]), 3);
  // Record 7 (device 2 reads page 0 of range 9): the device at +2.
  EXPECT_EQ(std::to_integer<int>(b[record_offset(7) + 2]), 2);
  EXPECT_EQ(device_count(small_trace()), 3u);
}

// Version 1 had no device (the field was reserved, written 0): such a file reads as device 0
// whatever the field holds. In version 2 a device the manager cannot have is rejected.
TEST(TraceIo, VersionOneIsReadAsOneDeviceAndADeviceBeyondEightIsRejected) {
  std::vector<std::byte> b = serialize_trace(small_trace());
  put32(b, 8, 1);
  const trace old = parse_trace(b);
  EXPECT_EQ(device_count(old), 1u);
  EXPECT_EQ(old.records[7].device, 0u);
  b = serialize_trace(small_trace());
  b[record_offset(7) + 2] = std::byte{8};
  expect_rejected(b, record_offset(7) + 2, "device 8 (a manager has at most 8)");
}

TEST(TraceIo, RoundTripInMemoryAndThroughAFile) {
  const trace t = small_trace();
  expect_same(t, parse_trace(serialize_trace(t)));

  const std::string path = temp_path("roundtrip.trc");
  write_trace(path, t);
  expect_same(t, read_trace(path));

  gen_options o;
  o.kind = pattern::hot_cold;
  o.pages = 1000;
  o.passes = 3;
  o.write_fraction = 0.25;
  const trace g = generate(o);
  write_trace(path, g);
  expect_same(g, read_trace(path));
  std::filesystem::remove(path);
}

TEST(TraceIo, EmptyBodyIsValid) {
  trace t;
  t.page_size = 4096;
  expect_same(t, parse_trace(serialize_trace(t)));
}

TEST(TraceIo, RejectsMalformedHeaders) {
  const std::vector<std::byte> good = serialize_trace(small_trace());

  expect_rejected(std::vector<std::byte>(good.begin(), good.begin() + 23), 0, "truncated header");
  expect_rejected({}, 0, "truncated header");

  auto b = good;
  b[3] = std::byte{'X'};
  expect_rejected(b, 0, "bad magic");

  b = good;
  put32(b, 8, 3);
  expect_rejected(b, 8, "unsupported version 3 (expected 1 or 2)");

  b = good;
  put32(b, 16, 3000);
  expect_rejected(b, 16, "page size 3000 is not a power of two");
  b = good;
  put32(b, 16, 0);
  put32(b, 20, 0);
  expect_rejected(b, 16, "page size 0");
}

TEST(TraceIo, RejectsMalformedRecords) {
  const std::vector<std::byte> good = serialize_trace(small_trace());

  auto b = good;
  b.resize(b.size() + 5);
  expect_rejected(b, record_offset(9), "truncated record (5 trailing bytes");
  b = good;
  b.pop_back();
  expect_rejected(b, record_offset(8), "truncated record (15 trailing bytes");

  b = good;
  b[record_offset(3)] = std::byte{7};
  expect_rejected(b, record_offset(3), "record 3: unknown record kind 7");

  b = good;
  b[record_offset(3) + 1] = std::byte{2};
  expect_rejected(b, record_offset(3), "device_access has access 2");

  b = good;
  put32(b, record_offset(3) + 8, 8);  // page 8 of an 8-page range
  expect_rejected(b, record_offset(3), "page 8 of range 3, which has 8 pages");

  b = good;
  put32(b, record_offset(4) + 4, 5);  // cpu access to range 5, never declared
  expect_rejected(b, record_offset(4), "cpu_access to undeclared range 5");

  b = good;
  put32(b, record_offset(5) + 12, 0);
  expect_rejected(b, record_offset(5), "range 9 declares 0 pages");

  b = good;
  put32(b, record_offset(5) + 4, 3);  // record 5 redeclares range 3 with 1 page...
  expect_rejected(b, record_offset(7), "device_access to undeclared range 9");  // ...not 9
}

TEST(TraceIo, AcceptsWhatTheRuntimeWrites) {
  // The migrator reuses the id of a freed range (there is no "free" record), and concurrent
  // launches may push their epochs out of order: both are accepted.
  trace t;
  t.page_size = 4096;
  t.records = {range_record(0, 8), device_access(0, 7), epoch_record(3),
               epoch_record(2),    range_record(0, 2),  device_access(0, 1)};
  expect_same(t, parse_trace(serialize_trace(t)));
  t.records.push_back(device_access(0, 7));  // but page 7 is gone with the first range 0
  EXPECT_THROW((void)serialize_trace(t), uvm::invalid_argument);
}

TEST(TraceIo, WritersRefuseMalformedTraces) {
  trace t = small_trace();
  t.records.insert(t.records.begin(), device_access(3, 0));  // before range 3 is declared
  EXPECT_THROW((void)serialize_trace(t), uvm::invalid_argument);
  const std::string path = temp_path("refused.trc");
  EXPECT_THROW(write_trace(path, t), uvm::invalid_argument);
  EXPECT_FALSE(std::filesystem::exists(path));
}

TEST(TraceIo, MissingFileIsASystemError) {
  EXPECT_THROW((void)read_trace(temp_path("does_not_exist.trc")), uvm::system_error);
}

TEST(TraceIo, FileErrorsNameTheFile) {
  const std::string path = temp_path("short.trc");
  {
    std::FILE* f = std::fopen(path.c_str(), "wb");
    ASSERT_NE(f, nullptr);
    std::fputs("UVMTRC01", f);
    std::fclose(f);
  }
  try {
    (void)read_trace(path);
    ADD_FAILURE() << "accepted an 8-byte file";
  } catch (const uvm::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("trace '" + path + "': offset 0: truncated header"),
              std::string::npos)
        << e.what();
  }
  std::filesystem::remove(path);
}

TEST(ParseBudget, PagesOrBytes) {
  EXPECT_EQ(parse_budget("1024", 4096), 1024u);
  EXPECT_EQ(parse_budget("4M", 4096), 1024u);
  EXPECT_EQ(parse_budget("4MiB", 4096), 1024u);
  EXPECT_EQ(parse_budget("4MB", 4096), 1024u);
  EXPECT_EQ(parse_budget("64K", 4096), 16u);
  EXPECT_EQ(parse_budget("1G", 65536), 16384u);
  EXPECT_EQ(parse_budget("8192B", 4096), 2u);
  EXPECT_EQ(parse_budget("6K", 4096), 1u);  // rounded down to whole pages
  EXPECT_THROW((void)parse_budget("2K", 4096), uvm::invalid_argument);  // < one page
  EXPECT_THROW((void)parse_budget("0", 4096), uvm::invalid_argument);
  EXPECT_THROW((void)parse_budget("abc", 4096), uvm::invalid_argument);
  EXPECT_THROW((void)parse_budget("4X", 4096), uvm::invalid_argument);
  EXPECT_THROW((void)parse_budget("4Mx", 4096), uvm::invalid_argument);
  EXPECT_THROW((void)parse_budget("", 4096), uvm::invalid_argument);
}

}  // namespace
}  // namespace uvm::replay
