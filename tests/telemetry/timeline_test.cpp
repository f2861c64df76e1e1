// A run with UVM_TIMELINE (config::timeline_path) writes Chrome trace event JSON that parses,
// whose events are ordered and nest on every track, and whose migrations add up to stats().
#include "host/telemetry/timeline.hpp"
#include "host/common/clock.hpp"
#include "tests/common/json.hpp"
#include "tests/migration/emulated_config.hpp"

#include <uvm/uvm.hpp>

#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <unistd.h>

namespace uvm::detail {
namespace {

using uvm::testing::json;

std::string temp_path(const char* what) {
  return ::testing::TempDir() + "uvm-timeline-" + what + "-" + std::to_string(getpid()) + ".json";
}

json read_json(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  std::remove(path.c_str());
  return uvm::testing::parse_json(text.str());
}

struct track_key {
  double pid, tid;
  auto operator<=>(const track_key&) const = default;
};

// Checks the structure every consumer relies on; returns the thread names by track.
std::map<track_key, std::string> check_tracks(const json& doc) {
  std::map<track_key, std::string> names;
  std::map<track_key, std::vector<std::pair<double, double>>> open;  // stack of [ts, end]
  std::map<track_key, double> last_ts;
  for (const json& e : doc["traceEvents"].arr()) {
    const std::string& ph = e["ph"].str();
    const track_key k{e["pid"].num(), e["tid"].num()};
    if (ph == "M") {
      if (e["name"].str() == "thread_name") names[k] = e["args"]["name"].str();
      continue;
    }
    EXPECT_TRUE(ph == "X" || ph == "i") << ph;
    EXPECT_TRUE(e["name"].is_string());
    EXPECT_TRUE(e["args"].is_object());
    const double ts = e["ts"].num();
    const double end = ph == "X" ? ts + e["dur"].num() : ts;
    EXPECT_GE(ts, 0.0);
    EXPECT_GE(end, ts);
    // Ordered per track...
    if (auto it = last_ts.find(k); it != last_ts.end()) {
      EXPECT_GE(ts, it->second) << e["name"].str() << " on tid " << k.tid << " is out of order";
    }
    last_ts[k] = ts;
    // ... and nested: an event that starts inside another ends inside it. Times are printed to
    // the nanosecond: slices back to back (a device fault's stages) may differ by rounding.
    auto& stack = open[k];
    constexpr double rounding_us = 1e-4;
    while (!stack.empty() && stack.back().second <= ts + rounding_us) stack.pop_back();
    if (!stack.empty()) {
      EXPECT_LE(end, stack.back().second) << e["name"].str() << " overlaps the event before it";
    }
    stack.emplace_back(ts, end);
  }
  for (const auto& [k, ts] : last_ts) {
    EXPECT_TRUE(names.contains(k)) << "track " << k.tid << " has no thread_name";
  }
  return names;
}

TEST(Timeline, RunParsesNestsAndAddsUpToStats) {
  const std::string path = temp_path("run");
  constexpr std::size_t page = 64 << 10, pages = 32;
  uvm::stats s;
  {
    // Eight frames for 32 pages: kernels fault, evict and map pages remote.
    uvm::config cfg = uvm::testing::emulated(page, 8 * page);
    cfg.timeline_path = path;
    uvm::manager mgr(cfg);
    auto a = mgr.allocate<std::uint32_t>(pages * page / 4);
    for (std::size_t p = 0; p < pages; ++p) a[p * (page / 4)] = static_cast<std::uint32_t>(p);
    auto v = a.view();
    uvm::stream st = mgr.create_stream("side");
    for (int round = 0; round < 2; ++round) {
      mgr.parallel_for(pages,
                       [=](std::size_t p) { v.store(p * (page / 4), v.load(p * (page / 4)) + 1); });
      mgr.synchronize();
    }
    mgr.parallel_for(
        4, [=](std::size_t p) { (void)v.load(p * (page / 4)); }, st);
    mgr.synchronize(st);
    mgr.prefetch(a.data(), 4 * page, uvm::location::device());
    mgr.synchronize();
    mgr.prefetch(a.data(), 4 * page, uvm::location::host());
    mgr.synchronize();
    mgr.pin_resident(a.data(), page, uvm::location::host());
    mgr.unpin(a.data(), page);
    for (std::size_t p = 0; p < pages; ++p) EXPECT_EQ(a[p * (page / 4)], p + 2);
    s = mgr.stats();
  }
  const json doc = read_json(path);
  ASSERT_TRUE(doc.is_object());
  ASSERT_TRUE(doc["traceEvents"].is_array());
  const json& meta = doc["metadata"];
  EXPECT_EQ(meta["dropped_events"].num(), 0.0);
  EXPECT_EQ(meta["events"].num(), static_cast<double>(doc["traceEvents"].arr().size()));
  ASSERT_EQ(meta["ranges"].arr().size(), 1u);
  EXPECT_EQ(meta["ranges"].arr()[0]["bytes"].num(), static_cast<double>(pages * page));

  const std::map<track_key, std::string> names = check_tracks(doc);
  std::set<std::string> track_names;
  for (const auto& [k, n] : names) track_names.insert(n);
  EXPECT_TRUE(track_names.contains("copies to device"));
  EXPECT_TRUE(track_names.contains("copies to host"));
  EXPECT_TRUE(track_names.contains("stream uvm-compute"));
  EXPECT_TRUE(track_names.contains("stream side"));
  EXPECT_TRUE(track_names.contains("events"));

  double to_device = 0, to_host = 0;
  std::map<std::string, std::size_t> count;
  std::uint64_t device_pages = 0;
  std::map<std::string, std::uint64_t> stage_pages;  // device fault stages, by stage
  for (const json& e : doc["traceEvents"].arr()) {
    if (e["ph"].str() == "M") continue;
    const std::string& name = e["name"].str();
    ++count[name];
    const json& args = e["args"];
    if (args.has("bytes") && args.has("direction")) {
      EXPECT_EQ(names.at({e["pid"].num(), e["tid"].num()}).rfind("copies to ", 0), 0u) << name;
      (args["direction"].str() == "to device" ? to_device : to_host) += args["bytes"].num();
      EXPECT_GT(args["pages"].num(), 0.0);
    }
    if (name == "device fault batch")
      device_pages += static_cast<std::uint64_t>(args["pages"].num());
    if (name.rfind("device fault: ", 0) == 0) {
      EXPECT_EQ(names.at({e["pid"].num(), e["tid"].num()}).rfind("device fault stages", 0), 0u);
      stage_pages[name] += static_cast<std::uint64_t>(args["pages"].num());
    }
    if (name == "cpu fault: serviced") {
      // Its stages, from the request's times, fit within the fault.
      const double stages = args["queued_us"].num() + args["waited_us"].num() +
                            args["resolved_us"].num() + args["woken_us"].num();
      EXPECT_GT(args["resolved_us"].num(), 0.0);
      EXPECT_LE(stages, e["dur"].num() + 0.005);
    }
    if (name.rfind("cpu fault: ", 0) == 0) {
      EXPECT_TRUE(args["range"].str().rfind("range ", 0) == 0) << args["range"].str();
      EXPECT_LT(args["page"].num(), static_cast<double>(pages));
    }
  }
  EXPECT_GT(to_device, 0.0);
  EXPECT_GT(to_host, 0.0);
  EXPECT_EQ(to_device, static_cast<double>(s.bytes_host_to_device));
  EXPECT_EQ(to_host, static_cast<double>(s.bytes_device_to_host));
  EXPECT_EQ(count["cpu fault: first-touch"], s.first_touch.count);
  EXPECT_EQ(count["cpu fault: serviced"], s.serviced.count);
  EXPECT_EQ(device_pages, s.device.count);
  for (const char* stage : {"planned", "issued", "landed", "published"}) {
    EXPECT_EQ(stage_pages[std::string("device fault: ") + stage], s.device.count) << stage;
  }
  EXPECT_EQ(count["remote mapping"], s.remote_mappings);
  EXPECT_GT(s.remote_mappings, 0u);
  EXPECT_GT(count["evict"], 0u);
  EXPECT_GT(count["prefetch"], 0u);
  EXPECT_EQ(count["kernels"], 3u);  // two rounds on the default stream, one on `side`
  EXPECT_EQ(count["range created"], 1u);
  EXPECT_EQ(count["range freed"], 1u);
  EXPECT_EQ(count["pin to host"], 1u);
  EXPECT_EQ(count["unpin"], 1u);
}

timeline_event migration(std::uint64_t start, std::uint64_t end, std::uint64_t bytes) {
  return {.start_ns = start,
          .end_ns = end,
          .value = bytes,
          .count = 1,
          .kind = timeline_kind::migration,
          .flags = to_device_flag};
}

TEST(Timeline, OverlappingEventsGoToFurtherLanesOfTheirTrack) {
  const std::string path = temp_path("lanes");
  {
    timeline t(path);
    const std::uint64_t t0 = now_ns() + 1000;
    t.push(migration(t0 + 100, t0 + 200, 1));  // completes first
    t.push(migration(t0, t0 + 500, 2));        // began earlier: overlaps it
    t.push(migration(t0 + 600, t0 + 700, 3));  // after both: back on the first lane
  }
  const json doc = read_json(path);
  const auto names = check_tracks(doc);
  std::map<double, double> tid_of_bytes;
  for (const json& e : doc["traceEvents"].arr()) {
    if (e["ph"].str() == "X") tid_of_bytes[e["args"]["bytes"].num()] = e["tid"].num();
  }
  ASSERT_EQ(tid_of_bytes.size(), 3u);
  EXPECT_NE(tid_of_bytes[1], tid_of_bytes[2]);
  EXPECT_EQ(tid_of_bytes[1], tid_of_bytes[3]);
  EXPECT_EQ(names.at({static_cast<double>(getpid()), tid_of_bytes[1]}), "copies to device");
  EXPECT_EQ(names.at({static_cast<double>(getpid()), tid_of_bytes[2]}), "copies to device (2)");
}

TEST(Timeline, DroppedEventsAreCountedInTheMetadata) {
  const std::string path = temp_path("dropped");
  constexpr std::size_t extra = 100;
  {
    timeline t(path);
    const std::uint64_t t0 = now_ns();
    for (std::size_t i = 0; i < timeline::capacity + extra; ++i)
      t.push(migration(t0 + i, t0 + i, 1));
    EXPECT_EQ(t.dropped(), extra);
  }
  const json doc = read_json(path);
  EXPECT_EQ(doc["metadata"]["dropped_events"].num(), static_cast<double>(extra));
  std::size_t written = 0;
  for (const json& e : doc["traceEvents"].arr()) written += e["ph"].str() == "X";
  EXPECT_EQ(written, timeline::capacity);
}

TEST(Timeline, DrainsAsItGoes) {
  const std::string path = temp_path("incremental");
  timeline t(path);
  const std::uint64_t t0 = now_ns();
  t.push(migration(t0, t0 + 10, 7));
  t.drain();
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  EXPECT_NE(text.str().find("\"bytes\":7"), std::string::npos) << text.str();
  t.finish();
  t.push(migration(t0, t0 + 10, 8));  // after finish: not written, the file stays valid JSON
  t.drain();
  const json doc = read_json(path);
  EXPECT_EQ(doc["metadata"]["events"].num(), static_cast<double>(doc["traceEvents"].arr().size()));
}

TEST(Timeline, ManagersAskedForOnePathWriteNumberedFilesBesideIt) {
  // As uvm-bench does under UVM_TIMELINE: several managers, some alive at once, one path.
  const std::string path = temp_path("shared");
  const std::string stem = path.substr(0, path.size() - 5);  // without ".json"
  std::vector<std::string> written;
  {
    timeline first(path);
    timeline second(path);
    written = {first.path(), second.path()};
  }
  { written.push_back(timeline(path).path()); }
  ASSERT_EQ(written.size(), 3u);
  EXPECT_EQ(written[0], path);
  EXPECT_EQ(written[1], stem + ".2.json");
  EXPECT_EQ(written[2], stem + ".3.json");
  for (const std::string& p : written) {
    const json doc = read_json(p);  // each one complete
    EXPECT_TRUE(doc["traceEvents"].is_array()) << p;
  }
}

TEST(Timeline, ThreadsFaultingAtOnceEachHaveTheirTrack) {
  const std::string path = temp_path("threads");
  constexpr std::size_t page = 4096, pages_per_thread = 256, threads = 4;
  uvm::stats s;
  {
    uvm::config cfg = uvm::testing::emulated(page);
    cfg.timeline_path = path;
    uvm::manager mgr(cfg);
    auto a = mgr.allocate<std::uint32_t>(threads * pages_per_thread * page / 4);
    std::vector<std::thread> workers;
    for (std::size_t t = 0; t < threads; ++t) {
      workers.emplace_back([&, t] {
        for (std::size_t p = 0; p < pages_per_thread; ++p) {
          a[(t * pages_per_thread + p) * (page / 4)] = static_cast<std::uint32_t>(t);
        }
      });
    }
    auto v = a.view();
    mgr.parallel_for(threads * pages_per_thread,
                     [=](std::size_t p) { (void)v.load(p * (page / 4)); });
    for (auto& w : workers) w.join();
    mgr.synchronize();
    s = mgr.stats();
  }
  const json doc = read_json(path);
  EXPECT_EQ(doc["metadata"]["dropped_events"].num(), 0.0);
  check_tracks(doc);
  std::map<double, std::size_t> faults_by_tid;
  std::size_t first_touches = 0;
  for (const json& e : doc["traceEvents"].arr()) {
    if (e["ph"].str() != "X" || e["name"].str().rfind("cpu fault: ", 0) != 0) continue;
    ++faults_by_tid[e["tid"].num()];
    first_touches += e["name"].str() == "cpu fault: first-touch";
  }
  EXPECT_GE(faults_by_tid.size(), threads);  // every worker's faults on its own track
  EXPECT_EQ(first_touches, s.first_touch.count);
}

TEST(Timeline, AnUnwritablePathIsAnErrorNamingIt) {
  uvm::config cfg = uvm::testing::emulated();
  cfg.timeline_path = "/nonexistent-dir/timeline.json";
  try {
    uvm::manager mgr(cfg);
    FAIL() << "no error";
  } catch (const uvm::system_error& e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent-dir/timeline.json"), std::string::npos)
        << e.what();
  }
}

TEST(Timeline, TheSamePathAsTheTraceIsRefused) {
  uvm::config cfg = uvm::testing::emulated();
  cfg.timeline_path = cfg.trace_path = temp_path("both");
  EXPECT_THROW(uvm::manager{cfg}, uvm::invalid_argument);
}

// With several devices, each device's copies have tracks of their own (per direction), streams
// name their device, and migrations and peer mappings say which device; the bytes on each
// device's tracks add up to its stats.
TEST(Timeline, EachDeviceHasCopyTracksOfItsOwn) {
  const std::string path = temp_path("devices");
  constexpr std::size_t page = 64 << 10, pages = 4;
  uvm::stats s;
  {
    uvm::config cfg = uvm::testing::emulated(page);
    cfg.emulated_devices = 2;
    cfg.thrashing_migrations = 0;
    cfg.timeline_path = path;
    uvm::manager mgr(cfg);
    auto a = mgr.allocate<std::uint32_t>(pages * page / 4);
    for (std::size_t p = 0; p < pages; ++p) a[p * (page / 4)] = 1;  // on the host
    const uvm::stream on0 = mgr.create_stream("a", 0);
    const uvm::stream on1 = mgr.create_stream("b", 1);
    auto v = a.view();
    const auto add = [&](const uvm::stream& st) {
      mgr.parallel_for(
          pages, [=](std::size_t p) { v.store(p * (page / 4), v.load(p * (page / 4)) + 1); }, st);
      mgr.synchronize(st);
    };
    add(on0);  // host to device 0
    add(on1);  // device 0 to device 1
    mgr.advise(a.data(), pages * page, uvm::advice::set_accessed_by, uvm::location::device(0));
    add(on0);  // device 0 maps device 1's frames
    for (std::size_t p = 0; p < pages; ++p) EXPECT_EQ(a[p * (page / 4)], 4u);  // 1 to the host
    s = mgr.stats();
  }
  ASSERT_EQ(s.devices.size(), 2u);
  const json doc = read_json(path);
  const std::map<track_key, std::string> names = check_tracks(doc);
  std::set<std::string> track_names;
  for (const auto& [k, n] : names) track_names.insert(n);
  for (const char* t : {"copies to device 0", "copies to device 1", "copies from device 1 to host",
                        "stream a (device 0)", "stream b (device 1)"}) {
    EXPECT_TRUE(track_names.contains(t)) << t;
  }
  std::map<std::string, double> bytes_by_track;
  double from_devices = 0;
  std::uint64_t peer_mappings = 0;
  for (const json& e : doc["traceEvents"].arr()) {
    if (e["ph"].str() == "M") continue;
    const json& args = e["args"];
    if (args.has("bytes") && args.has("direction")) {
      bytes_by_track[names.at({e["pid"].num(), e["tid"].num()})] += args["bytes"].num();
      from_devices += args["bytes_from_devices"].num();
    }
    if (e["name"].str() == "peer mapping") {
      EXPECT_EQ(args["device"].num(), 0.0);
      ++peer_mappings;
    }
  }
  EXPECT_EQ(bytes_by_track["copies to device 0"],
            static_cast<double>(s.devices[0].bytes_from_host + s.devices[0].bytes_from_devices));
  EXPECT_EQ(bytes_by_track["copies to device 1"],
            static_cast<double>(s.devices[1].bytes_from_host + s.devices[1].bytes_from_devices));
  EXPECT_EQ(bytes_by_track["copies from device 1 to host"],
            static_cast<double>(s.devices[1].bytes_to_host));
  EXPECT_EQ(from_devices, static_cast<double>(s.bytes_device_to_device));
  EXPECT_EQ(s.bytes_device_to_device, pages * page);
  EXPECT_EQ(peer_mappings, s.devices[0].remote_mappings);
  EXPECT_EQ(peer_mappings, pages);
}

}  // namespace
}  // namespace uvm::detail

namespace uvm::detail {
namespace {

// With a device model, the timeline also holds the first profile's schedule on the modelled
// clock: each kernel on its stream's modelled track, each stream-ordered copy on its engine's,
// with the modelled durations stats() reports.
TEST(Timeline, TheDeviceModelsScheduleIsOnTracksOfItsOwn) {
  const std::string path = temp_path("modelled");
  constexpr std::size_t page = 64 << 10, pages = 8;
  uvm::modelled_time t;
  {
    uvm::config cfg = uvm::testing::emulated(page);
    cfg.timeline_path = path;
    cfg.device_model = "h100-pcie5,pcie3-1080ti";
    uvm::manager mgr(cfg);
    auto a = mgr.allocate<std::uint32_t>(pages * page / 4);
    auto b = mgr.allocate<std::uint32_t>(pages * page / 4);
    for (std::size_t p = 0; p < pages; ++p) a[p * (page / 4)] = b[p * (page / 4)] = 1;
    const uvm::stream s = mgr.create_stream("work");
    mgr.prefetch(b.data(), pages * page, uvm::location::device(), s);
    auto v = a.view();
    mgr.parallel_for(
        pages, [=](std::size_t p) { v.store(p * (page / 4), v.load(p * (page / 4)) + 1); }, s);
    mgr.synchronize(s);
    t = mgr.stats().modelled.at(0);
  }
  ASSERT_EQ(t.profile, "h100-pcie5");
  ASSERT_EQ(t.kernels, 1u);
  const json doc = read_json(path);
  const std::map<track_key, std::string> names = check_tracks(doc);
  double kernel_us = -1, copied_bytes = 0, kernel_start = 0, copy_end = 0;
  for (const json& e : doc["traceEvents"].arr()) {
    if (e["ph"].str() == "M") continue;
    const std::string& track = names.at({e["pid"].num(), e["tid"].num()});
    if (e["name"].str() == "kernel (modelled)") {
      EXPECT_EQ(track, "modelled h100-pcie5: stream work");
      EXPECT_EQ(e["args"]["faults"].num(), double(pages));
      kernel_us = e["dur"].num();
      kernel_start = e["ts"].num();
    }
    if (e["name"].str() == "copy to device (modelled)") {
      EXPECT_EQ(track, "modelled h100-pcie5: device 0 copies in");
      copied_bytes += e["args"]["bytes"].num();
      copy_end = std::max(copy_end, e["ts"].num() + e["dur"].num());
    }
  }
  EXPECT_NEAR(kernel_us, double(t.per_kernel.total_ns) / 1e3, 1e-3);
  EXPECT_EQ(copied_bytes, double(pages * page)) << "the prefetch, as one copy";
  EXPECT_GE(kernel_start + 1e-3, copy_end) << "the kernel follows the prefetch on its stream";
}

}  // namespace
}  // namespace uvm::detail
