// What a tool sees of uvm's NVTX: the test loads tests/telemetry/nvtx_recorder.cpp the way
// Nsight Systems attaches (NVTX_INJECTION64_PATH, set before the first NVTX call), runs a small
// program on the emulated device (faults, migrations both ways, evictions past a small budget,
// a prefetch, a named stream) and reads the recorded events back: the `uvm` domain, its named
// categories, the payload ranges in their categories, named threads, and pushes and pops that
// nest per thread. Built where the library has NVTX (UVM_HAS_NVTX).
#include <uvm/uvm.hpp>

#include <gtest/gtest.h>

#include <dlfcn.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

namespace {

// Before main: NVTX reads the variable once, at the first call of any thread.
const bool injected = [] { return setenv("NVTX_INJECTION64_PATH", UVM_NVTX_RECORDER, 1) == 0; }();

std::vector<std::string> fields(const std::string& line) {
  std::vector<std::string> f;
  std::stringstream in(line);
  for (std::string x; std::getline(in, x, '\t');) f.push_back(x);
  return f;
}

struct range_event {
  std::string domain, category, payload, message;
};

constexpr std::size_t page = 64 << 10;

void run_program() {
  uvm::config cfg = uvm::config::from_env();
  cfg.backend = uvm::backend_kind::emulated;
  cfg.page_size = page;
  cfg.device_budget = 8 * page;  // 32 pages through 8 frames: evictions
  uvm::manager mgr(cfg);
  constexpr std::size_t n = 32 * page / sizeof(std::uint32_t);
  auto a = mgr.allocate<std::uint32_t>(n);
  for (std::size_t i = 0; i < n; ++i) a[i] = static_cast<std::uint32_t>(i);
  const uvm::stream s = mgr.create_stream("nvtx-test");
  auto v = a.view();
  mgr.parallel_for(
      n, [=](std::size_t i) { v.store(i, v.load(i) + 1); }, s);
  mgr.synchronize(s);
  mgr.prefetch(a.data(), 4 * page, uvm::location::device());
  mgr.synchronize();
  std::uint64_t sum = 0;
  for (std::size_t i = 0; i < n; ++i) sum += a[i];
  EXPECT_EQ(sum, std::uint64_t{n} * (n + 1) / 2);
}

TEST(NvtxInjection, AToolSeesTheDomainCategoriesPayloadRangesThreadsAndNesting) {
  ASSERT_TRUE(injected);
  run_program();
  void* lib = dlopen(UVM_NVTX_RECORDER, RTLD_NOW | RTLD_NOLOAD);
  ASSERT_NE(lib, nullptr) << "NVTX never loaded the injection library";
  using events_fn = const char* (*)();
  const auto events = reinterpret_cast<events_fn>(dlsym(lib, "uvm_nvtx_recorder_events"));
  ASSERT_NE(events, nullptr);
  const std::string text = events();
  dlclose(lib);

  std::string uvm_domain;
  std::map<std::string, std::string> category_id;  // name -> id, in the uvm domain
  std::set<std::string> threads;
  std::vector<range_event> pushes;
  std::map<std::string, int> depth;  // per thread
  int deepest = 0;
  std::stringstream in(text);
  for (std::string line; std::getline(in, line);) {
    const auto f = fields(line);
    ASSERT_FALSE(f.empty());
    if (f[0] == "domain" && f.size() == 3 && f[2] == "uvm") uvm_domain = f[1];
    if (f[0] == "category" && f.size() == 4 && f[1] == uvm_domain) category_id[f[3]] = f[2];
    if (f[0] == "thread" && f.size() == 3) threads.insert(f[2]);
    if (f[0] == "push") {
      ASSERT_GE(f.size(), 6u) << line;  // push domain thread depth category payload [message]
      EXPECT_EQ(std::stoi(f[3]), ++depth[f[2]]) << "a push out of order on its thread: " << line;
      deepest = std::max(deepest, depth[f[2]]);
      pushes.push_back({f[1], f[4], f[5], f.size() > 6 ? f[6] : ""});
    }
    if (f[0] == "pop") {
      ASSERT_EQ(f.size(), 4u) << line;
      EXPECT_EQ(std::stoi(f[3]), depth[f[2]]--) << "a pop without its push: " << line;
      EXPECT_GE(depth[f[2]], 0) << line;
    }
  }
  ASSERT_FALSE(uvm_domain.empty()) << "no `uvm` domain created:\n" << text.substr(0, 2000);
  for (const auto& [tid, d] : depth) EXPECT_EQ(d, 0) << "thread " << tid << " left ranges open";
  EXPECT_GE(deepest, 2) << "no range nested in another";

  for (const char* c : {"fault", "migration", "eviction", "prefetch"}) {
    EXPECT_TRUE(category_id.count(c)) << "category " << c << " not named";
  }
  // Each kind of range, in the uvm domain, in its category, with a payload.
  const auto expect_range = [&](const std::string& message, const std::string& category,
                                std::uint64_t unit) {
    bool seen = false;
    for (const auto& r : pushes) {
      if (r.message != message || r.domain != uvm_domain) continue;
      seen = true;
      EXPECT_EQ(r.category, category_id[category]) << message;
      ASSERT_NE(r.payload, "-") << message << " has no payload";
      const std::uint64_t p = std::stoull(r.payload);
      EXPECT_GT(p, 0u) << message;
      EXPECT_EQ(p % unit, 0u) << message << ": " << p;
    }
    EXPECT_TRUE(seen) << "no `" << message << "` range";
  };
  expect_range("device fault batch", "fault", 1);
  expect_range("cpu fault batch", "fault", 1);
  expect_range("migrate to device", "migration", page);
  expect_range("migrate to host", "migration", page);
  expect_range("evict", "eviction", page);
  expect_range("prefetch to device", "prefetch", page);

  // Named threads: the fault service, the emulated device's kernel workers and the stream's own.
  for (const char* t : {"uvm-fault", "uvm-kernel-0", "uvm-stream-nvtx-test"}) {
    EXPECT_TRUE(threads.count(t)) << "thread " << t << " not named";
  }
}

}  // namespace
