#pragma once

// CPU and kernels at once: stream attachment, declared launches, stream-ordered prefetch and
// discard. The same cases run on the emulated device (streams_test.cpp, every build, the
// sanitizers included) and, compiled by nvcc, on a GPU where there is one
// (kernels/streams_gpu_test.cu). Kernels are free functions: nvcc takes no extended lambda in a
// test body.
//
// "While a kernel runs" is established by the kernel itself, not by time: it holds until the
// test opens a word in host memory both sides reach, then marks that it ended; a test reads the
// mark after the CPU access it checks.

#include "kernels/host_words.hpp"
#include "tests/migration/emulated_config.hpp"

#include <uvm/launch.hpp>
#include <uvm/uvm.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <future>
#include <string_view>
#include <thread>
#include <vector>

namespace uvm::testing {

/// The devices the cases spread their streams over: 1 (streams_test, streams_gpu_test), or 2
/// where an includer defines it so (multi_device_streams_test): each stream a case makes then
/// goes to the next device, and what the case places for a stream's kernels goes to its device.
#ifndef UVM_STREAM_CASES_DEVICES
#define UVM_STREAM_CASES_DEVICES 1
#endif

/// The configuration of these cases: the emulated device in the host build; on a GPU where
/// nvcc built them and one is usable.
inline config stream_config(std::size_t page = 64 << 10) {
  config c = test_config();
#if !defined(__CUDACC__)
  c.backend = backend_kind::emulated;
  c.emulated_devices = UVM_STREAM_CASES_DEVICES;
#endif
  c.page_size = page;
  c.fault_timeout = std::chrono::seconds(30);
  return c;
}

using shared_words = kernels::host_words;

/// A stream on the next device of the spread (device 0 without one).
inline stream new_stream(manager& m, std::string_view name) {
  static std::atomic<int> next{0};
  const int spread = std::min(UVM_STREAM_CASES_DEVICES, m.device_count());
  return m.create_stream(name, next.fetch_add(1) % spread);
}

/// Where pages go for kernels on `s`: its device.
inline location device_of(const stream& s) {
  return location::device(s.device());
}

inline constexpr unsigned go_word = 0;     // the test opens it
inline constexpr unsigned ended_word = 1;  // the kernel sets it as it ends

/// The body of a kernel that reads the first word of each page of `a`, then (index 0) holds
/// until `go` is set (at most 25 s) and marks that it ended.
struct hold_body {
  const_device_view<std::uint32_t> a;
  std::size_t per_page;
  std::uint32_t* words;
  UVM_HOST_DEVICE void operator()(std::size_t i) const {
    const std::uint32_t seen = a.load(i * per_page);
    if (i != 0) return;
    const std::uint64_t end = detail::device_clock_ns() + 25'000'000'000ull;
    while (detail::load_acquire(words + go_word) == 0 && detail::device_clock_ns() < end) {
    }
    detail::store_release(words + ended_word, 1 + (seen & 0u));
  }
};

/// Launches hold_body over the pages of `a` on `s`; with `declared`, it declares it reads `a`.
inline void launch_hold(manager& m, const typed_range<std::uint32_t>& a, const shared_words& w,
                        const stream& s, bool declared = false) {
  const std::size_t per_page = a.bytes().page_size() / 4;
  const hold_body body{a.const_view(), per_page, w.device()};
  const std::size_t pages = a.bytes().page_count();
  if (declared) {
    launch(m, pages, body, s, {reads(a)});
  } else {
    launch(m, pages, body, s);
  }
}

/// Reads the first word of every page i of `a` into out[i].
struct sum_body {
  const_device_view<std::uint32_t> a;
  std::size_t per_page;
  device_view<std::uint32_t> out;
  UVM_HOST_DEVICE void operator()(std::size_t i) const { out.store(i, a.load(i * per_page)); }
};

/// Writes `value` into the first word of every page of `a`.
struct fill_body {
  device_view<std::uint32_t> a;
  std::size_t per_page;
  std::uint32_t value;
  UVM_HOST_DEVICE void operator()(std::size_t i) const { a.store(i * per_page, value); }
};

inline void launch_fill(manager& m, typed_range<std::uint32_t>& a, std::uint32_t value,
                        const stream& s) {
  const std::size_t per_page = a.bytes().page_size() / 4;
  launch(m, a.bytes().page_count(), fill_body{a.view(), per_page, value}, s);
}

/// A range whose pages the CPU wrote (word 0 of page p = p + 1), then moved to the device.
inline typed_range<std::uint32_t> device_resident(manager& m, std::size_t pages,
                                                  const stream& s = {}) {
  const std::size_t per_page = m.configuration().page_size / 4;
  auto r = m.allocate<std::uint32_t>(pages * per_page);
  for (std::size_t p = 0; p < pages; ++p) r[p * per_page] = static_cast<std::uint32_t>(p + 1);
  m.prefetch(r.bytes(), device_of(s), s);
  m.synchronize(s);
  return r;
}

/// Reads and writes the first word of every page of `r` on the CPU; true if each read what
/// device_resident wrote.
inline bool cpu_round_trip(typed_range<std::uint32_t>& r) {
  const std::size_t per_page = r.bytes().page_size() / 4;
  bool ok = true;
  for (std::size_t p = 0; p < r.bytes().page_count(); ++p) {
    ok &= r[p * per_page] == p + 1;
    r[p * per_page] = static_cast<std::uint32_t>(p + 100);
  }
  return ok;
}

using namespace std::chrono_literals;

/// Runs `access` on another thread while the kernel holding on `w` runs, and returns what it
/// returned and whether that kernel had ended when it returned. The kernel is released once the
/// access is seen waiting for a kernel (a CPU fault the service put off) or has returned without
/// waiting, so a test of "the access waits for the kernel" can fail without a sleep.
/// The state of the page at `p` once no move of it is under way (a kernel may see its entry a
/// moment before the runtime finishes the move), at most 20 s.
inline page_state settled_state(manager& mgr, const void* p) {
  const auto deadline = std::chrono::steady_clock::now() + 20s;
  page_state st = mgr.state_of(p);
  while (st == page_state::migrating && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::yield();
    st = mgr.state_of(p);
  }
  return st;
}

template <class F>
auto access_while_held(manager& mgr, shared_words& w, F access) {
  const std::uint64_t before = mgr.stats().cpu_fault_deferrals;
  auto pending = std::async(std::launch::async, [&] {
    auto result = access();
    return std::pair{result, w.get(ended_word)};
  });
  const auto deadline = std::chrono::steady_clock::now() + 20s;
  while (mgr.stats().cpu_fault_deferrals == before &&
         pending.wait_for(0s) != std::future_status::ready &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::yield();
  }
  w.set(go_word, 1);
  return pending.get();
}

TEST(Streams, CpuUsesMemoryAttachedToAnotherStreamWhileAKernelRuns) {
  manager mgr(stream_config());
  const stream s1 = new_stream(mgr, "kernel");
  const stream s2 = new_stream(mgr, "other");
  auto a = device_resident(mgr, 8);
  auto b = device_resident(mgr, 8);
  mgr.attach(b.bytes(), attach_kind::single, s2);
  mgr.synchronize(s2);
  EXPECT_EQ(mgr.range_attributes(b.data(), 4).attachment, attach_kind::single);
  ASSERT_EQ(mgr.state_of(b.data()), page_state::device_exclusive);
  shared_words w(mgr);
  launch_hold(mgr, a, w, s1);
  EXPECT_TRUE(cpu_round_trip(b)) << "the CPU read what it wrote before the move";
  EXPECT_EQ(w.get(ended_word), 0u) << "the CPU access waited for the kernel on the other stream";
  EXPECT_EQ(mgr.state_of(b.data()), page_state::host_exclusive);
  w.set(go_word, 1);
  mgr.synchronize(s1);
  EXPECT_EQ(w.get(ended_word), 1u);
}

TEST(Streams, CpuAccessToGlobalMemoryWaitsForTheKernel) {
  manager mgr(stream_config());
  const stream s1 = new_stream(mgr, "kernel");
  auto a = device_resident(mgr, 4);
  auto b = device_resident(mgr, 4);
  shared_words w(mgr);
  launch_hold(mgr, a, w, s1);  // undeclared: it may use b
  const auto [ok, ended] = access_while_held(mgr, w, [&] { return cpu_round_trip(b); });
  EXPECT_TRUE(ok);
  EXPECT_EQ(ended, 1u) << "a CPU access to global memory did not wait for the kernel in flight";
  mgr.synchronize(s1);
}

TEST(Streams, ADeclaredLaunchHoldsOnlyCpuFaultsOnWhatItDeclared) {
  manager mgr(stream_config());
  const stream s1 = new_stream(mgr, "kernel");
  auto a = device_resident(mgr, 4);
  auto b = device_resident(mgr, 4);
  shared_words w(mgr);
  launch_hold(mgr, a, w, s1, /*declared=*/true);
  EXPECT_TRUE(cpu_round_trip(b));
  EXPECT_EQ(w.get(ended_word), 0u) << "a CPU fault outside the declaration waited for the kernel";
  // Its own range still waits.
  const auto [seen, ended] = access_while_held(mgr, w, [&] { return std::uint32_t{a[0]}; });
  EXPECT_EQ(seen, 1u);
  EXPECT_EQ(ended, 1u) << "a CPU access to a declared page did not wait for the kernel";
  mgr.synchronize(s1);
}

TEST(Streams, HostAttachedMemoryUsedByAKernelIsADeviceErrorNamingTheRange) {
  manager mgr(stream_config());
  const std::size_t per_page = mgr.configuration().page_size / 4;
  auto a = mgr.allocate<std::uint32_t>(4 * per_page);
  uvm::range host_only = mgr.allocate(4 * mgr.configuration().page_size, attach_kind::host);
  typed_range<std::uint32_t> h(std::move(host_only), 4 * per_page);
  EXPECT_EQ(mgr.range_attributes(h.data(), 4).attachment, attach_kind::host);
  h[0] = 5;  // the CPU never waits for it
  auto out = mgr.allocate<std::uint32_t>(per_page);
  const auto start = std::chrono::steady_clock::now();
  launch(mgr, 4, sum_body{h.const_view(), per_page, out.view()});
  try {
    mgr.synchronize();
    ADD_FAILURE() << "no device error";
  } catch (const device_fault& e) {
    EXPECT_NE(std::string(e.what()).find("attached to the host"), std::string::npos) << e.what();
    char base[32];
    std::snprintf(base, sizeof base, "%#llx",
                  static_cast<unsigned long long>(reinterpret_cast<std::uintptr_t>(h.data())));
    EXPECT_NE(std::string(e.what()).find(base), std::string::npos) << e.what();
  }
  EXPECT_LT(std::chrono::steady_clock::now() - start, 15s) << "waited for the fault timeout";
  EXPECT_EQ(h[0], 5u) << "the host's data is intact";
  // Attached back to every stream, kernels use it again.
  mgr.attach(h.bytes(), attach_kind::global);
  launch(mgr, 4, sum_body{h.const_view(), per_page, out.view()});
  mgr.synchronize();
  EXPECT_EQ(out[0], 5u);
}

TEST(Streams, MemoryAttachedToOneStreamIsADeviceErrorOnAnother) {
  manager mgr(stream_config());
  const stream s1 = new_stream(mgr, "one");
  const stream s2 = new_stream(mgr, "two");
  const std::size_t per_page = mgr.configuration().page_size / 4;
  auto b = mgr.allocate<std::uint32_t>(2 * per_page);
  b[0] = 9;
  mgr.attach(b.bytes(), attach_kind::single, s2);
  auto out = mgr.allocate<std::uint32_t>(per_page);
  launch(mgr, 2, sum_body{b.const_view(), per_page, out.view()}, s1);
  EXPECT_THROW(mgr.synchronize(s1), device_fault);
  launch(mgr, 2, sum_body{b.const_view(), per_page, out.view()}, s2);
  mgr.synchronize(s2);
  EXPECT_EQ(out[0], 9u);
}

TEST(Streams, AnAttachQueuedBehindAKernelTakesEffectAfterIt) {
  manager mgr(stream_config());
  const stream s1 = new_stream(mgr, "kernel");
  auto a = device_resident(mgr, 4);
  auto b = device_resident(mgr, 4);
  shared_words w(mgr);
  launch_hold(mgr, a, w, s1);
  mgr.attach(b.bytes(), attach_kind::host, s1);  // behind the kernel, which may use b
  const auto [ok, ended] = access_while_held(mgr, w, [&] { return cpu_round_trip(b); });
  EXPECT_TRUE(ok);
  EXPECT_EQ(ended, 1u) << "the attach took effect before the kernel queued ahead of it ended";
  mgr.synchronize(s1);
  // In effect now: a kernel on the same stream no longer holds the CPU back.
  for (std::size_t p = 0; p < 4; ++p)
    b[p * (b.bytes().page_size() / 4)] = static_cast<std::uint32_t>(p + 1);
  shared_words w2(mgr);
  launch_hold(mgr, a, w2, s1);
  EXPECT_TRUE(cpu_round_trip(b));
  EXPECT_EQ(w2.get(ended_word), 0u);
  w2.set(go_word, 1);
  mgr.synchronize(s1);
}

TEST(Streams, PrefetchIsStreamOrderedAndTheNextKernelTakesNoDeviceFault) {
  manager mgr(stream_config());
  const stream s = new_stream(mgr, "work");
  const std::size_t per_page = mgr.configuration().page_size / 4;
  auto gate = device_resident(mgr, 1, s);  // on s's device: the held kernel takes no fault
  auto x = mgr.allocate<std::uint32_t>(16 * per_page);
  for (std::size_t p = 0; p < 16; ++p) x[p * per_page] = static_cast<std::uint32_t>(p + 1);
  shared_words w(mgr);
  launch_hold(mgr, gate, w, s);
  mgr.prefetch(x.bytes(), device_of(s), s);  // returns at once, queued behind the kernel
  EXPECT_EQ(mgr.state_of(x.data()), page_state::host_exclusive) << "moved before its turn";
  auto out = mgr.allocate<std::uint32_t>(per_page);  // while the kernel is held
  EXPECT_EQ(w.get(ended_word), 0u) << "allocate waited for the held kernel";
  mgr.prefetch(out.bytes(), device_of(s), s);
  launch(mgr, 16, sum_body{x.const_view(), per_page, out.view()}, s);
  mgr.reset_stats();
  w.set(go_word, 1);
  mgr.synchronize(s);
  EXPECT_EQ(mgr.stats().device.count, 0u) << "the kernel after the prefetches faulted";
  EXPECT_EQ(mgr.state_of(x.data() + 15 * per_page), page_state::device_exclusive);
  EXPECT_EQ(mgr.stats().prefetched_pages, 17u);
  EXPECT_EQ(out[0], 1u);
  EXPECT_EQ(out[15], 16u);
}

TEST(Streams, APrefetchBeforeALaunchOnItsStreamEvictsToMakeRoom) {
  // cudaMemPrefetchAsync then a kernel, on one stream, with the device full: the kernel queued
  // behind the prefetch waits for it, so the prefetch must evict for its pages (it used to see
  // that kernel in flight, evict nothing, and leave the pages to fault and run remote).
  config c = stream_config();
  c.device_budget = 8 * c.page_size;
  manager mgr(c);
  const stream s = new_stream(mgr, "work");
  const std::size_t per_page = mgr.configuration().page_size / 4;
  auto gate = device_resident(mgr, 1);
  auto filler = device_resident(mgr, 7);  // every frame taken
  auto x = mgr.allocate<std::uint32_t>(4 * per_page);
  for (std::size_t p = 0; p < 4; ++p) x[p * per_page] = static_cast<std::uint32_t>(p + 1);
  auto out = mgr.allocate<std::uint32_t>(per_page);
  out[0] = 0;
  shared_words w(mgr);
  launch_hold(mgr, gate, w, s);  // the prefetches wait for it; the launch after them is queued
  mgr.prefetch(x.bytes(), device_of(s), s);
  mgr.prefetch(out.bytes(), device_of(s), s);
  launch(mgr, 4, sum_body{x.const_view(), per_page, out.view()}, s);
  mgr.reset_stats();
  w.set(go_word, 1);
  mgr.synchronize(s);
  const stats st = mgr.stats();
  EXPECT_GE(st.evictions, 5u);
  EXPECT_EQ(mgr.state_of(x.data() + 3 * per_page), page_state::device_exclusive);
  EXPECT_EQ(st.remote_mappings, 0u) << "pages ran remote: the prefetches made no room";
  EXPECT_EQ(st.device.count, 0u) << "the kernel after the prefetches faulted";
  EXPECT_EQ(out[0], 1u);
  EXPECT_EQ(out[3], 4u);
  EXPECT_EQ(filler[0], 1u);
}

/// Adds 3x + 1 to the first word of pages [first, first + n) of `a`, one page per index.
struct scale_body {
  device_view<std::uint32_t> a;
  std::size_t per_page;
  std::size_t first;
  UVM_HOST_DEVICE void operator()(std::size_t i) const {
    const std::size_t at = (first + i) * per_page;
    a.store(at, a.load(at) * 3 + 1);
  }
};

TEST(Streams, AChunkedPipelineOnTwoStreamsReusesTheFramesItsChunksGiveBack) {
  // Data four times the device streamed through kernels in chunks, alternating two streams:
  // prefetch a chunk to the device, a kernel on it, prefetch it back. While one chunk's kernel
  // runs, the next chunk's prefetch takes the frames the chunk before gave back (free once the
  // kernels that may have started meanwhile end). They used to stay quarantined until every
  // kernel queued by then had ended: after the first four chunks no prefetch found a frame, and
  // the kernels ran on remote pages.
  config c = stream_config();
  constexpr std::size_t chunk = 4, chunks = 16;
  c.device_budget = 4 * chunk * c.page_size;
  manager mgr(c);
  const stream streams[2] = {new_stream(mgr, "even"), new_stream(mgr, "odd")};
  const std::size_t per_page = mgr.configuration().page_size / 4;
  auto x = mgr.allocate<std::uint32_t>(chunk * chunks * per_page);
  for (std::size_t p = 0; p < chunk * chunks; ++p) x[p * per_page] = static_cast<std::uint32_t>(p);
  mgr.reset_stats();
  for (std::size_t k = 0; k < chunks; ++k) {
    const stream& s = streams[k % 2];
    std::uint32_t* first = x.data() + k * chunk * per_page;
    const std::size_t bytes = chunk * c.page_size;
    mgr.prefetch(first, bytes, device_of(s), s);
    launch(mgr, chunk, scale_body{x.view(), per_page, k * chunk}, s, {writes(first, bytes)});
    mgr.prefetch(first, bytes, location::host(), s);
  }
  mgr.synchronize(streams[0]);
  mgr.synchronize(streams[1]);
  const stats st = mgr.stats();
  EXPECT_EQ(st.device.count, 0u) << "kernels faulted: prefetches found no free frame";
  EXPECT_EQ(st.remote_mappings, 0u);
  EXPECT_EQ(st.prefetched_pages, 2 * chunk * chunks);
  EXPECT_EQ(st.evictions, 0u) << "the frames came back free, nothing to evict";
  for (std::size_t p = 0; p < chunk * chunks; ++p) {
    ASSERT_EQ(x[p * per_page], 3 * p + 1) << "page " << p;
  }
}

TEST(Streams, PrefetchToTheHostAfterAKernelOnTheStreamBringsItsWritesBack) {
  manager mgr(stream_config());
  const stream s = new_stream(mgr, "work");
  auto x = device_resident(mgr, 8);
  launch_fill(mgr, x, 77, s);
  mgr.prefetch(x.bytes(), location::host(), s);
  mgr.synchronize(s);
  EXPECT_EQ(mgr.state_of(x.data()), page_state::host_exclusive);
  const std::uint64_t faults = mgr.stats().cpu_faults();
  for (std::size_t p = 0; p < 8; ++p) EXPECT_EQ(x[p * (x.bytes().page_size() / 4)], 77u);
  EXPECT_EQ(mgr.stats().cpu_faults(), faults) << "the pages were in place";
}

TEST(Streams, ABatchPrefetchesSeveralRangesInOneCall) {
  manager mgr(stream_config());
  const stream s = new_stream(mgr, "work");
  auto x = device_resident(mgr, 4);
  const std::size_t per_page = mgr.configuration().page_size / 4;
  auto y = mgr.allocate<std::uint32_t>(4 * per_page);
  y[0] = 1;
  const prefetch_span spans[] = {{x.data(), 4 * per_page * 4, location::host()},
                                 {y.data(), 4 * per_page * 4, device_of(s)}};
  mgr.prefetch(spans, s);
  mgr.synchronize(s);
  EXPECT_EQ(mgr.state_of(x.data()), page_state::host_exclusive);
  EXPECT_EQ(mgr.state_of(y.data()), page_state::device_exclusive);
  const prefetch_span bad[] = {{y.data(), 4, location::device()},
                               {&per_page, 8, location::device()}};
  EXPECT_THROW(mgr.prefetch(bad, s), invalid_argument) << "a bad span refuses the whole batch";
}

TEST(Streams, DiscardDropsPagesWithoutCopiesAndTheyReadZeros) {
  manager mgr(stream_config());
  const stream s = new_stream(mgr, "work");
  const std::size_t page = mgr.configuration().page_size;
  const std::size_t per_page = page / 4;
  auto x = device_resident(mgr, 8);
  launch_fill(mgr, x, 55, s);  // dirty on the device
  auto h = mgr.allocate<std::uint32_t>(2 * per_page);
  h[0] = 3;  // host-only
  mgr.synchronize(s);
  mgr.reset_stats();
  const memory_span dead[] = {{x.data(), 8 * page}, {h.data(), 2 * page}};
  mgr.discard(dead, s);
  mgr.synchronize(s);
  uvm::stats st = mgr.stats();
  EXPECT_EQ(st.discarded_pages, 9u) << "8 device pages and the one host page that held data";
  EXPECT_EQ(st.bytes_device_to_host, 0u) << "a discarded page was copied back";
  EXPECT_EQ(mgr.state_of(x.data()), page_state::unpopulated);
  for (std::size_t p = 0; p < 8; ++p) EXPECT_EQ(x[p * per_page], 0u) << p;
  EXPECT_EQ(h[0], 0u);
  EXPECT_EQ(mgr.stats().bytes_device_to_host, 0u) << "the CPU touch copied a discarded page";
  // Part of a page is not discarded: its other bytes are kept.
  h[per_page] = 4;
  mgr.discard(h.data() + per_page + 1, page - 8, s);
  mgr.synchronize(s);
  EXPECT_EQ(h[per_page], 4u);
}

TEST(Streams, DiscardAndPrefetchLandsZerosOnTheDevice) {
  manager mgr(stream_config());
  const stream s = new_stream(mgr, "work");
  const std::size_t page = mgr.configuration().page_size;
  auto x = device_resident(mgr, 4);
  launch_fill(mgr, x, 66, s);
  mgr.synchronize(s);
  mgr.reset_stats();
  const prefetch_span spans[] = {{x.data(), 4 * page, device_of(s)}};
  mgr.discard_and_prefetch(spans, s);
  mgr.synchronize(s);
  EXPECT_EQ(mgr.stats().bytes_device_to_host, 0u);
  EXPECT_EQ(mgr.state_of(x.data()), page_state::device_exclusive);
  EXPECT_EQ(x[0], 0u);
}

TEST(Streams, SynchronizingAStreamDoesNotWaitForAnotherStreamsKernel) {
  manager mgr(stream_config());
  const stream s1 = new_stream(mgr, "kernel");
  const stream s2 = new_stream(mgr, "other");
  auto a = device_resident(mgr, 2);
  auto x = mgr.allocate<std::uint32_t>(mgr.configuration().page_size / 4);
  x[0] = 1;
  shared_words w(mgr);
  launch_hold(mgr, a, w, s1, /*declared=*/true);
  mgr.prefetch(x.bytes(), device_of(s2), s2);
  mgr.synchronize(s2);  // cudaStreamSynchronize: s2's work only
  EXPECT_EQ(mgr.state_of(x.data()), page_state::device_exclusive);
  EXPECT_EQ(w.get(ended_word), 0u) << "synchronize(s2) waited for the kernel on s1";
  w.set(go_word, 1);
  mgr.synchronize();  // the default stream: every stream's work
  EXPECT_EQ(w.get(ended_word), 1u);
}

TEST(Streams, FreeingARangeWaitsOnlyForKernelsThatMayUseIt) {
  manager mgr(stream_config());
  const stream s1 = new_stream(mgr, "kernel");
  auto a = device_resident(mgr, 2);
  auto b = device_resident(mgr, 2);
  shared_words w(mgr);
  launch_hold(mgr, a, w, s1, /*declared=*/true);
  b = {};  // freed while a kernel that does not use it runs
  EXPECT_EQ(w.get(ended_word), 0u);
  w.set(go_word, 1);
  mgr.synchronize(s1);
  EXPECT_EQ(mgr.stats().live_ranges, 1u);
}

// The device's error words are read on the runtime's own control stream: synchronize(s) of an
// idle stream does not wait behind a kernel on the default stream (which holds until opened, or
// 25 s: had synchronize waited for it, it has ended by the time synchronize returns).
TEST(Streams, SynchronizingAnIdleStreamDoesNotWaitForADefaultStreamKernel) {
  config cfg = stream_config();
  cfg.fault_timeout = std::chrono::seconds(60);  // past the kernel's own 25 s bound
  manager mgr(cfg);
  const stream s2 = new_stream(mgr, "idle");
  auto a = mgr.allocate<std::uint32_t>(8 * (64 << 10) / 4);
  shared_words w(mgr);
  launch_hold(mgr, a, w, stream{});  // the default stream
  mgr.synchronize(s2);
  EXPECT_EQ(w.get(ended_word), 0u) << "synchronize(s2) waited for the default stream's kernel";
  w.set(go_word, 1);
  mgr.synchronize();
  EXPECT_EQ(w.get(ended_word), 1u);
}

// Every thread that queues work on one stream at once: the stream runs the operations in the
// order their calls took effect, and never stops. (Two threads whose event and gate
// interleaved left the later operation first in the queue, behind the earlier one's closed
// gate: the stream hung for good, and every synchronize timed out.)
inline void prefetch_from_threads(manager& mgr, const stream& s) {
  constexpr unsigned threads = 8;
  constexpr unsigned rounds = 200;
  const std::size_t per_page = mgr.configuration().page_size / 4;
  std::vector<typed_range<std::uint32_t>> ranges;
  for (unsigned t = 0; t < threads; ++t) {
    ranges.push_back(mgr.allocate<std::uint32_t>(2 * per_page));
    ranges.back()[0] = t + 1;
  }
  std::atomic<unsigned> arrived{0};
  std::atomic<bool> failed{false};
  std::vector<std::thread> pool;
  for (unsigned t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      for (unsigned round = 0; round < rounds && !failed.load(); ++round) {
        // Released together each round (or as soon as one thread failed).
        arrived.fetch_add(1);
        while (arrived.load() < (round + 1) * threads && !failed.load()) std::this_thread::yield();
        try {
          const location to = round % 2 == 0 ? device_of(s) : location::host();
          mgr.prefetch(ranges[t].bytes(), to, s);
          mgr.synchronize(s, 10s);
        } catch (const std::exception& e) {
          if (!failed.exchange(true)) {
            ADD_FAILURE() << "thread " << t << ", round " << round << ": " << e.what();
          }
        }
      }
    });
  }
  for (std::thread& th : pool) th.join();
  ASSERT_FALSE(failed.load());
  mgr.synchronize(s, 10s);
  for (unsigned t = 0; t < threads; ++t) {
    EXPECT_EQ(mgr.state_of(ranges[t].data()), page_state::host_exclusive);  // the last round's
    EXPECT_EQ(ranges[t][0], t + 1);
  }
}

TEST(Streams, PrefetchesQueuedFromManyThreadsOnACreatedStreamAllRun) {
  manager mgr(stream_config());
  prefetch_from_threads(mgr, new_stream(mgr, "shared"));
}

TEST(Streams, PrefetchesQueuedFromManyThreadsOnTheDefaultStreamAllRun) {
  manager mgr(stream_config());
  prefetch_from_threads(mgr, {});
}

/// Adds one to the first word of every page of `a`.
struct increment_body {
  device_view<std::uint32_t> a;
  std::size_t per_page;
  UVM_HOST_DEVICE void operator()(std::size_t i) const {
    a.store(i * per_page, a.load(i * per_page) + 1);
  }
};

TEST(Streams, ADeviceWideSynchronizeWaitsForWhatWasIssuedBeforeItWhileAnotherThreadLaunches) {
  // cudaDeviceSynchronize waits for the work issued before the call. Another thread that keeps
  // launching and synchronizing its own stream neither makes it time out (it threw "did not
  // finish within 5000 ms" after about 0 ms when a kernel launched meanwhile was in flight)
  // nor keeps it waiting.
  manager mgr(stream_config());
  const std::size_t per_page = mgr.configuration().page_size / 4;
  auto mine = mgr.allocate<std::uint32_t>(per_page);
  auto theirs = mgr.allocate<std::uint32_t>(per_page);
  mine[0] = 0;
  theirs[0] = 0;
  std::atomic<bool> stop{false};
  std::atomic<unsigned> launched{0};
  std::thread other([&] {
    const stream s = new_stream(mgr, "busy");
    while (!stop.load()) {
      launch(mgr, 1, increment_body{theirs.view(), per_page}, s, {writes(theirs)});
      mgr.synchronize(s, 20s);
      launched.fetch_add(1);
    }
  });
  while (launched.load() < 10) std::this_thread::yield();
  const stream s = new_stream(mgr, "mine");
  unsigned timeouts = 0;
  std::string first;
  constexpr unsigned calls = 1500;
  for (unsigned i = 0; i < calls; ++i) {
    launch(mgr, 1, increment_body{mine.view(), per_page}, s, {writes(mine)});
    try {
      mgr.synchronize({}, 5000ms);
    } catch (const uvm::timeout& e) {
      if (timeouts++ == 0) first = e.what();
    }
  }
  stop.store(true);
  other.join();
  EXPECT_EQ(timeouts, 0u) << "of " << calls << " device-wide synchronizes; the first: " << first;
  EXPECT_EQ(mine[0], calls) << "a kernel issued before a device-wide synchronize still ran";
  EXPECT_EQ(theirs[0], launched.load());
}

TEST(Streams, HostAttachedPagesAlreadyOnTheDeviceAreADeviceErrorToo) {
  // Attachment holds whatever the page's state: a kernel that may not use a page gets the
  // device error also when the page sits in a device frame (it used to read and write the
  // frame without any error, racing the CPU, which never waits for host-attached memory).
  manager mgr(stream_config());
  const stream s1 = new_stream(mgr, "one");
  auto a = device_resident(mgr, 4);
  ASSERT_EQ(mgr.state_of(a.data()), page_state::device_exclusive);
  mgr.attach(a.bytes(), attach_kind::host);
  mgr.synchronize();
  launch_fill(mgr, a, 77, s1);
  EXPECT_THROW(mgr.synchronize(s1), device_fault);
  EXPECT_TRUE(cpu_round_trip(a)) << "a store of the denied kernel reached the page";
  // Global again: kernels use the pages as before.
  mgr.attach(a.bytes(), attach_kind::global);
  mgr.prefetch(a.bytes(), device_of(s1), s1);
  launch_fill(mgr, a, 78, s1);
  mgr.synchronize(s1);
  EXPECT_EQ(a[0], 78u);
}

TEST(Streams, PagesAttachedToOneStreamAlreadyOnTheDeviceAreADeviceErrorOnAnother) {
  manager mgr(stream_config());
  const stream s1 = new_stream(mgr, "one");
  const stream s2 = new_stream(mgr, "two");
  const std::size_t per_page = mgr.configuration().page_size / 4;
  auto b = device_resident(mgr, 4, s2);  // on s2's device
  mgr.attach(b.bytes(), attach_kind::single, s2);
  mgr.synchronize();
  auto out = mgr.allocate<std::uint32_t>(4);
  mgr.prefetch(out.bytes(), device_of(s2), s1);  // where s2's kernel writes it
  mgr.synchronize(s1);
  launch_fill(mgr, b, 55, s1);
  EXPECT_THROW(mgr.synchronize(s1), device_fault);
  // The stream it is attached to still uses the pages where they are, without a fault.
  mgr.reset_stats();
  launch(mgr, 4, sum_body{b.const_view(), per_page, out.view()}, s2);
  mgr.synchronize(s2);
  EXPECT_EQ(mgr.stats().device.count, 0u) << "the pages left the device or were remapped";
  EXPECT_EQ(mgr.state_of(b.data() + 3 * per_page), page_state::device_exclusive);
  EXPECT_TRUE(cpu_round_trip(b)) << "a store of the denied kernel reached the page";
  EXPECT_EQ(out[0], 1u);
  EXPECT_EQ(out[3], 4u);
}

TEST(Streams, TheCpuUsesAHostHeldPageAtOnceWhileAKernelThatMayUseItRuns) {
  // Coherence is per page (docs/api.md, "Streams and the CPU"): a page the host holds is the
  // CPU's to use at once, kernels in flight or not; only device-held pages wait for the kernels
  // that may use them. A program that lets the CPU and a kernel use the same data unsynchronised
  // races, as on a GPU with concurrent managed access.
  manager mgr(stream_config());
  const stream s1 = new_stream(mgr, "kernel");
  auto a = device_resident(mgr, 2);
  const std::size_t per_page = mgr.configuration().page_size / 4;
  auto x = mgr.allocate<std::uint32_t>(per_page);
  x[0] = 3;  // held by the host
  shared_words w(mgr);
  launch_hold(mgr, a, w, s1);  // undeclared, on a global range: it may use x
  EXPECT_EQ(x[0], 3u);
  x[0] = 4;
  EXPECT_EQ(w.get(ended_word), 0u) << "the kernel ended before the CPU access returned";
  EXPECT_EQ(mgr.state_of(x.data()), page_state::host_exclusive);
  w.set(go_word, 1);
  mgr.synchronize(s1);
  EXPECT_EQ(x[0], 4u);
}

inline constexpr unsigned wrote_word = 2;  // write_hold_body sets it after its store

/// Stores `value` into the first word of `x`, marks it, then holds like hold_body.
struct write_hold_body {
  device_view<std::uint32_t> x;
  std::uint32_t value;
  std::uint32_t* words;
  UVM_HOST_DEVICE void operator()(std::size_t) const {
    x.store(0, value);
    detail::store_release(words + wrote_word, 1);
    const std::uint64_t end = detail::device_clock_ns() + 25'000'000'000ull;
    while (detail::load_acquire(words + go_word) == 0 && detail::device_clock_ns() < end) {
    }
    detail::store_release(words + ended_word, 1);
  }
};

/// Launches write_hold_body storing 42 into `x` on `s`. @return once its store happened (true),
/// or false after 20 s.
inline bool launch_write_hold(manager& mgr, typed_range<std::uint32_t>& x, shared_words& w,
                              const stream& s) {
  launch(mgr, 1, write_hold_body{x.view(), 42, w.device()}, s);
  const auto deadline = std::chrono::steady_clock::now() + 20s;
  while (w.get(wrote_word) == 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::yield();
  }
  return w.get(wrote_word) == 1;
}

TEST(Streams, AHostPageAKernelMapsRemoteIsSharedWithTheCpuWhileItRuns) {
  // With every frame taken, a kernel's fault maps a host-held page remote: the kernel writes the
  // host's bytes, and the CPU, which does not wait for host-held pages, sees the store while the
  // kernel still runs (the race that per-page coherence leaves to the program).
  config c = stream_config();
  c.device_budget = 4 * c.page_size;
  manager mgr(c);
  const stream s1 = new_stream(mgr, "kernel");
  auto filler = device_resident(mgr, 4);
  const std::size_t per_page = mgr.configuration().page_size / 4;
  auto x = mgr.allocate<std::uint32_t>(per_page);
  x[0] = 1;
  shared_words w(mgr);
  ASSERT_TRUE(launch_write_hold(mgr, x, w, s1)) << "the kernel's store did not happen";
  EXPECT_EQ(settled_state(mgr, x.data()), page_state::remote);
  EXPECT_EQ(x[0], 42u) << "the CPU did not see the kernel's store to the remote page";
  EXPECT_EQ(w.get(ended_word), 0u) << "the CPU access waited for the kernel";
  w.set(go_word, 1);
  mgr.synchronize(s1);
  EXPECT_EQ(filler[0], 1u);
}

TEST(Streams, AKernelThatMovesAHostPageToTheDeviceMakesTheCpuWaitForIt) {
  // The other way a kernel takes a host-held page: its fault moves the page into a frame, and
  // from then on a CPU access waits for the kernel and sees its store.
  manager mgr(stream_config());
  const stream s1 = new_stream(mgr, "kernel");
  const std::size_t per_page = mgr.configuration().page_size / 4;
  auto x = mgr.allocate<std::uint32_t>(per_page);
  x[0] = 1;
  shared_words w(mgr);
  ASSERT_TRUE(launch_write_hold(mgr, x, w, s1)) << "the kernel's store did not happen";
  EXPECT_EQ(settled_state(mgr, x.data()), page_state::device_exclusive);
  const auto [seen, ended] = access_while_held(mgr, w, [&] { return std::uint32_t{x[0]}; });
  EXPECT_EQ(seen, 42u);
  EXPECT_EQ(ended, 1u) << "the CPU access returned while the kernel still ran";
  mgr.synchronize(s1);
}

TEST(Streams, MoreStreamsThanHardwareQueuesEachWithAMoveBehindAHeldKernelAllComplete) {
  // Twelve streams (beyond CUDA's default of 8 hardware queues) each queue a move to the host of
  // pages a held kernel uses, then a kernel of their own: every gate is closed at once, and all
  // open and run once the held kernel ends (a gate's wait at the head of a shared hardware
  // queue must not hold the library's copies or another stream's work).
  constexpr unsigned streams = 12;
  manager mgr(stream_config());
  const std::size_t per_page = mgr.configuration().page_size / 4;
  const stream held = new_stream(mgr, "held");
  auto a = device_resident(mgr, 2);
  shared_words w(mgr);
  // Streams and ranges first: allocations and registrations may synchronise with the device.
  std::vector<stream> ss;
  std::vector<typed_range<std::uint32_t>> own;
  for (unsigned i = 0; i < streams; ++i) {
    ss.push_back(new_stream(mgr, "many"));
    own.push_back(mgr.allocate<std::uint32_t>(per_page));
  }
  launch_hold(mgr, a, w, held, /*declared=*/true);
  for (unsigned i = 0; i < streams; ++i) {
    mgr.prefetch(a.bytes(), location::host(), ss[i]);  // waits for the held kernel
    launch(mgr, 1, fill_body{own[i].view(), per_page, 50 + i}, ss[i], {writes(own[i])});
  }
  EXPECT_EQ(w.get(ended_word), 0u);
  w.set(go_word, 1);
  for (unsigned i = 0; i < streams; ++i) mgr.synchronize(ss[i]);
  mgr.synchronize(held);
  for (unsigned i = 0; i < streams; ++i) EXPECT_EQ(own[i][0], 50 + i) << "stream " << i;
  EXPECT_EQ(mgr.state_of(a.data()), page_state::host_exclusive);
  EXPECT_TRUE(cpu_round_trip(a));
}

/// Runs `f` over [0, n) as a kernel in `scope` (a kernel of the application's own).
template <class F>
void launch_in_scope(manager& m, launch_scope& scope, std::size_t n, F f) {
#if defined(__CUDACC__)
  if (m.backend() == backend_kind::cuda) {
    detail::launch_in(scope, n, f);
    return;
  }
#endif
  (void)m;
  scope.parallel_for(n, f);
}

TEST(Streams, MovesToTheHostQueuedBehindOpenScopesOnTwoStreamsDoNotWaitForEachOther) {
  // Two scopes open, then a move to the host on each one's stream, then each scope's kernel:
  // each kernel runs behind its stream's move. Were the first move to wait for the second
  // stream's kernel and the second for the first's, neither would run until the fault timeout.
  manager mgr(stream_config());
  const std::size_t per_page = mgr.configuration().page_size / 4;
  const stream s1 = new_stream(mgr, "one");
  const stream s2 = new_stream(mgr, "two");
  auto a = device_resident(mgr, 2);
  auto b = device_resident(mgr, 2);
  {
    launch_scope on2 = mgr.begin_launch(s2);
    launch_scope on1 = mgr.begin_launch(s1);
    mgr.prefetch(a.bytes(), location::host(), s1);
    mgr.prefetch(b.bytes(), location::host(), s2);
    launch_in_scope(mgr, on1, 1, fill_body{a.view(), per_page, 7});
    on1.end();
    launch_in_scope(mgr, on2, 1, fill_body{b.view(), per_page, 8});
  }
  // Well inside the fault timeout (30 s): a cycle would still be waiting.
  mgr.synchronize(s1, 10s);
  mgr.synchronize(s2, 10s);
  EXPECT_EQ(a[0], 7u);
  EXPECT_EQ(b[0], 8u);
}

// A kernel held on its stream; `x`, a range of `pages` pages allocated and written by the CPU
// while it is held; and a kernel on another stream that reads the first word of each of x's pages
// into `out`, launched while it is held too.
struct allocated_while_held {
  allocated_while_held(manager& m, std::size_t pages)
      : per_page(m.configuration().page_size / 4),
        held(new_stream(m, "held")),
        next(new_stream(m, "next")),
        a(device_resident(m, 1)),
        out(device_resident(m, 1)),
        w(m) {
    launch_hold(m, a, w, held, /*declared=*/true);
    x = m.allocate<std::uint32_t>(pages * per_page);
    for (std::size_t p = 0; p < pages; ++p) x[p * per_page] = static_cast<std::uint32_t>(p + 1);
    launch(m, pages, sum_body{x.const_view(), per_page, out.view()}, next);
  }
  /// Whether `out` holds what the kernel on `next` should have read.
  [[nodiscard]] bool read_all(std::size_t pages) const {
    for (std::size_t p = 0; p < pages; ++p) {
      if (out[p] != p + 1) return false;
    }
    return true;
  }

  std::size_t per_page;
  stream held, next;
  typed_range<std::uint32_t> a, out;
  shared_words w;
  typed_range<std::uint32_t> x;
};

// A range allocated while a kernel is held (as in "allocate while a kernel runs"): nothing is
// allocated or registered while a kernel may wait on the runtime (CUDA may order both after it;
// the emulated device makes them wait until no kernel runs), so allocate() and the next launch
// return at once. The range's memory is registered once the held kernel ends and before the next
// kernel starts: with every frame taken, that kernel's faults map its pages remote, which needs
// the memory registered (an unregistered range would leave them waiting for a frame).
TEST(Streams, ARangeAllocatedWhileAKernelIsHeldIsRegisteredBeforeTheNextKernelStarts) {
  config c = stream_config();
  c.device_budget = 4 * c.page_size;
  manager mgr(c);
  constexpr std::size_t pages = 8;
  allocated_while_held h(mgr, pages);
  EXPECT_EQ(h.w.get(ended_word), 0u) << "allocate or launch waited for the held kernel";
  h.w.set(go_word, 1);
  mgr.synchronize();
  EXPECT_TRUE(h.read_all(pages));
  EXPECT_GT(mgr.stats().remote_mappings, 0u) << "no page of the full device was mapped remote";
}

// If the kernels in flight when a range was allocated outlast the fault timeout, the launches
// held for its registration go on anyway (an error is logged): the range's pages reach the device
// by copies into frames until no kernel is in flight and it is registered.
TEST(Streams, LaunchesHeldForALateRegistrationGoOnAfterTheFaultTimeout) {
  config c = stream_config();
  c.fault_timeout = std::chrono::milliseconds(500);
  manager mgr(c);
  constexpr std::size_t pages = 4;
  allocated_while_held h(mgr, pages);
  mgr.synchronize(h.next, std::chrono::seconds(20));
  EXPECT_EQ(h.w.get(ended_word), 0u) << "the launch on `next` waited for the held kernel to end";
  EXPECT_TRUE(h.read_all(pages));
  h.w.set(go_word, 1);
  mgr.synchronize();
}

}  // namespace uvm::testing
