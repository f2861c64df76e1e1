// Device profiles: the shipped ones parse, a profile's JSON form is read field by field, every
// bad field is named, and a link's copy time follows its size-dependent bandwidth.

#include <uvm/device_model.hpp>
#include <uvm/error.hpp>

#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <string>

#include <unistd.h>

namespace {

const char* const minimal = R"json({
  "name": "test", "description": "round numbers",
  "h2d": {"latency_us": 2, "bandwidth_gbps": 10},
  "d2h": {"latency_us": 1, "bandwidth_gbps": [[4096, 1], [1048576, 9]]},
  "d2d": {"latency_us": 0, "bandwidth_gbps": 50},
  "copy_engines": 2, "fault_batch_size": 4, "fault_batch_us": 20, "fault_us": 3,
  "publish_us": 1, "line_bytes": 128, "remote_gbps": 16, "remote_latency_us": 0.5,
  "memory_gbps": 1000, "launch_us": 5, "cpu_fault_us": 7
})json";

std::string without(const std::string& text, const std::string& field) {
  // Drops `"field": value,` (the test profile puts a comma after every field it drops).
  const std::size_t at = text.find("\"" + field + "\"");
  const std::size_t comma = text.find(',', at);
  return text.substr(0, at) + text.substr(comma + 1);
}

std::string message_of(const std::string& json) {
  try {
    (void)uvm::device_profile::parse(json);
  } catch (const uvm::invalid_argument& e) {
    return e.what();
  }
  return "";
}

TEST(DeviceProfile, EveryShippedProfileParsesWithItsName) {
  ASSERT_EQ(uvm::device_profile::shipped_profiles().size(), 3u);
  for (std::string_view name : uvm::device_profile::shipped_profiles()) {
    const uvm::device_profile p = uvm::device_profile::shipped(name);
    EXPECT_EQ(p.name, name);
    EXPECT_FALSE(p.description.empty());
    EXPECT_GT(p.memory_gbps, 0);
    EXPECT_EQ(uvm::device_profile::load(name).name, name) << "load() knows the shipped names";
  }
}

TEST(DeviceProfile, ReadsEveryField) {
  const uvm::device_profile p = uvm::device_profile::parse(minimal);
  EXPECT_EQ(p.name, "test");
  EXPECT_EQ(p.h2d.latency_us, 2);
  ASSERT_EQ(p.d2h.bandwidth.size(), 2u);
  EXPECT_EQ(p.d2h.bandwidth[1].first, 1048576u);
  EXPECT_EQ(p.copy_engines, 2u);
  EXPECT_EQ(p.fault_batch_size, 4u);
  EXPECT_EQ(p.fault_batch_us, 20);
  EXPECT_EQ(p.fault_us, 3);
  EXPECT_EQ(p.publish_us, 1);
  EXPECT_EQ(p.line_bytes, 128u);
  EXPECT_EQ(p.remote_gbps, 16);
  EXPECT_EQ(p.remote_latency_us, 0.5);
  EXPECT_EQ(p.memory_gbps, 1000);
  EXPECT_EQ(p.launch_us, 5);
  EXPECT_EQ(p.cpu_fault_us, 7);
}

TEST(DeviceProfile, AMissingFieldIsNamed) {
  for (const char* field : {"fault_us", "memory_gbps", "copy_engines", "launch_us", "publish_us"}) {
    const std::string m = message_of(without(minimal, field));
    EXPECT_NE(m.find(std::string("'") + field + "' is missing"), std::string::npos) << m;
  }
}

TEST(DeviceProfile, ANegativeOrMalformedFieldIsNamed) {
  std::string text = minimal;
  text.replace(text.find("\"fault_us\": 3"), 13, "\"fault_us\": -3");
  EXPECT_NE(message_of(text).find("'fault_us' is negative"), std::string::npos) << message_of(text);

  text = minimal;
  text.replace(text.find("\"latency_us\": 2"), 15, "\"latency_us\": -1");
  EXPECT_NE(message_of(text).find("'latency_us' is negative"), std::string::npos);

  text = minimal;
  text.replace(text.find("[[4096, 1], [1048576, 9]]"), 25, "[[1048576, 9], [4096, 1]]");
  EXPECT_NE(message_of(text).find("'d2h.bandwidth_gbps' must ascend"), std::string::npos)
      << message_of(text);

  text = minimal;
  text.replace(text.find("\"memory_gbps\": 1000"), 19, "\"memory_gbps\": 0");
  EXPECT_NE(message_of(text).find("'memory_gbps' must be above 0"), std::string::npos);

  text = minimal;
  text.replace(text.find("\"copy_engines\": 2"), 17, "\"copy_engines\": 1.5");
  EXPECT_NE(message_of(text).find("'copy_engines' is 1.5"), std::string::npos);

  EXPECT_NE(message_of(std::string(minimal) + "x").find("text after the document"),
            std::string::npos);
  text = minimal;
  text.insert(1, "\"fualt_us\": 1, ");
  EXPECT_NE(message_of(text).find("unknown field 'fualt_us'"), std::string::npos);
}

TEST(DeviceProfile, AnUnknownNameOrFileIsAClearError) {
  try {
    (void)uvm::device_profile::load("no-such-gpu");
    FAIL() << "loaded a profile that does not exist";
  } catch (const uvm::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("h100-pcie5"), std::string::npos) << e.what();
  }
  EXPECT_THROW((void)uvm::device_profile::shipped("h100"), uvm::invalid_argument);
}

TEST(DeviceProfile, LoadsAFileAndNamesItInErrors) {
  const std::string path =
      testing::TempDir() + "uvm_profile_test." + std::to_string(getpid()) + ".json";
  {
    std::ofstream out(path);
    out << minimal;
  }
  EXPECT_EQ(uvm::device_profile::load(path).name, "test");
  {
    std::ofstream out(path);
    out << without(minimal, "publish_us");
  }
  try {
    (void)uvm::device_profile::load(path);
    FAIL();
  } catch (const uvm::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("'publish_us' is missing"), std::string::npos);
  }
  std::remove(path.c_str());
}

TEST(LinkProfile, CopyTimeIsLatencyPlusBytesAtTheSizesBandwidth) {
  const uvm::device_profile p = uvm::device_profile::parse(minimal);
  // 10 GB/s at every size: 1 MB in 100 us, plus 2 us.
  EXPECT_EQ(p.h2d.copy_ns(1'000'000), 102'000u);
  // Below the first point, the first point's bandwidth; above the last, the last's.
  EXPECT_DOUBLE_EQ(p.d2h.gbps(1024), 1.0);
  EXPECT_DOUBLE_EQ(p.d2h.gbps(std::uint64_t{1} << 30), 9.0);
  // Halfway in log2 between 4 KiB (2^12) and 1 MiB (2^20) is 64 KiB (2^16): 5 GB/s.
  EXPECT_DOUBLE_EQ(p.d2h.gbps(65536), 5.0);
  EXPECT_EQ(p.d2h.copy_ns(65536), 1000u + 13107u);  // 65536 / 5 = 13107.2 ns
  EXPECT_EQ(&p.link(uvm::copy_direction::device_to_device), &p.d2d);
}

}  // namespace
