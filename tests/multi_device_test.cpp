// Several emulated devices in one manager (config::emulated_devices): streams per device, pages
// that move device to device, read duplicates on several devices, peer mappings while another
// device's kernels hold a page, and no lost write with kernels on every device and CPU threads.

#include "tests/common/fault_mechanism.hpp"

#include <uvm/launch_scope.hpp>
#include <uvm/uvm.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace {

constexpr std::size_t page_bytes = std::size_t{64} << 10;
constexpr std::size_t words_per_page = page_bytes / sizeof(std::uint64_t);

uvm::config devices(unsigned n, std::size_t budget_pages = 64) {
  uvm::config c = uvm::testing::test_config();
  c.backend = uvm::backend_kind::emulated;
  c.emulated_devices = n;
  c.page_size = page_bytes;
  c.device_budget = budget_pages * page_bytes;
  // Pages change hands many times within milliseconds on purpose: thrashing by any measure, and
  // the detector would pin them to the host and map them remote. Off, unless a test turns it on.
  c.thrashing_migrations = 0;
  return c;
}

// A kernel on `s` that checks the first word of every page is `expect` (counting those that are
// not into `wrong`) and, with `add`, adds it there; then waits for all device work (the fault
// service's last batch included).
void run_on(uvm::manager& m, const uvm::typed_range<std::uint64_t>& v, const uvm::stream& s,
            std::uint64_t expect, std::optional<std::uint64_t> add, std::atomic<int>& wrong) {
  const std::size_t pages = v.size() / words_per_page;
  if (add) {
    const auto view = v.view();
    m.parallel_for(
        pages,
        [=, &wrong, add = *add](std::size_t p) {
          const std::uint64_t x = view.load(p * words_per_page);
          if (x != expect) wrong.fetch_add(1);
          view.store(p * words_per_page, x + add);
        },
        s);
  } else {
    const auto view = v.const_view();  // reads only: a read fault
    m.parallel_for(
        pages, [=, &wrong](std::size_t p) { wrong += view.load(p * words_per_page) != expect; }, s);
  }
  m.synchronize();
}

void add_on(uvm::manager& m, const uvm::typed_range<std::uint64_t>& v, const uvm::stream& s,
            std::uint64_t expect, std::uint64_t add, std::atomic<int>& wrong) {
  run_on(m, v, s, expect, add, wrong);
}

void check_on(uvm::manager& m, const uvm::typed_range<std::uint64_t>& v, const uvm::stream& s,
              std::uint64_t expect, std::atomic<int>& wrong) {
  run_on(m, v, s, expect, std::nullopt, wrong);
}

// A manager with cfg.emulated_devices devices, a range of `pages` pages and a stream on each
// device (s[d] on device d).
struct rig {
  explicit rig(std::size_t pages, const uvm::config& cfg = devices(2))
      : m(cfg), v(m.allocate<std::uint64_t>(pages * words_per_page)) {
    for (int d = 0; d < m.device_count(); ++d) s.push_back(m.create_stream("d", d));
  }
  uvm::manager m;
  uvm::typed_range<std::uint64_t> v;
  std::vector<uvm::stream> s;
};

TEST(MultiDevice, TheConfigurationSaysHowManyDevicesAndStreamsBelongToOne) {
  uvm::manager m{devices(3)};
  EXPECT_EQ(m.device_count(), 3);
  EXPECT_EQ(m.create_stream("two", 2).device(), 2);
  EXPECT_THROW((void)m.create_stream("three", 3), uvm::invalid_argument);
  uvm::config bad = devices(9);
  EXPECT_THROW(uvm::manager{bad}, uvm::invalid_argument);
  bad.emulated_devices = 0;
  EXPECT_THROW(uvm::manager{bad}, uvm::invalid_argument);
}

// A page a kernel on one device wrote moves to the next device's frames directly: device to
// device, nothing through the host.
TEST(MultiDevice, APageMovesDeviceToDeviceWithoutPassingThroughTheHost) {
  constexpr std::size_t pages = 8;
  rig t(pages, devices(3));
  auto& [m, v, s] = t;
  std::atomic<int> wrong{0};
  add_on(m, v, s[0], 0, 1, wrong);  // first touch on device 0
  m.reset_stats();
  add_on(m, v, s[1], 1, 10, wrong);
  uvm::stats st = m.stats();
  EXPECT_EQ(st.bytes_device_to_device, pages * page_bytes);
  EXPECT_EQ(st.bytes_host_to_device, 0u);
  EXPECT_EQ(st.bytes_device_to_host, 0u);
  ASSERT_EQ(st.devices.size(), 3u);
  EXPECT_EQ(st.devices[0].bytes_to_devices, pages * page_bytes);
  EXPECT_EQ(st.devices[1].bytes_from_devices, pages * page_bytes);
  ASSERT_EQ(st.devices[1].bytes_from_device.size(), 3u);
  EXPECT_EQ(st.devices[1].bytes_from_device[0], pages * page_bytes) << "the link 0 -> 1";
  EXPECT_EQ(st.devices[1].bytes_from_device[2], 0u);
  EXPECT_EQ(st.devices[1].faults, st.device.count) << "device 1's kernel took every fault";
  EXPECT_EQ(st.devices[0].faults + st.devices[2].faults, 0u);
  EXPECT_EQ(st.devices[2].bytes_from_devices + st.devices[2].bytes_from_host, 0u);
  add_on(m, v, s[2], 11, 100, wrong);
  add_on(m, v, s[0], 111, 1000, wrong);
  st = m.stats();
  EXPECT_EQ(st.bytes_device_to_device, 3 * pages * page_bytes);
  EXPECT_EQ(st.devices[2].bytes_from_device[1], pages * page_bytes) << "the link 1 -> 2";
  EXPECT_EQ(st.devices[0].bytes_from_device[2], pages * page_bytes) << "the link 2 -> 0";
  EXPECT_EQ(st.bytes_host_to_device + st.bytes_device_to_host, 0u);
  EXPECT_EQ(wrong.load(), 0);
  for (std::size_t p = 0; p < pages; ++p) EXPECT_EQ(v[p * words_per_page], 1111u) << p;
  EXPECT_GT(m.stats().bytes_device_to_host, 0u) << "the CPU's read brought the data back";
}

// Every ordered pair of agents (the host and each device), by write then access: the reader
// sees the writer's data, and the state says where the page is.
TEST(MultiDevice, EveryTransitionBetweenEveryPairOfAgentsKeepsTheData) {
  uvm::manager m{devices(2)};
  auto v = m.allocate<std::uint64_t>(words_per_page);
  const uvm::stream s[2] = {m.create_stream("d0", 0), m.create_stream("d1", 1)};
  std::atomic<int> wrong{0};
  std::uint64_t expect = 0;
  // -1: the host, else the device index.
  const auto write_by = [&](int agent) {
    if (agent < 0) {
      v[0] = expect + 1;
    } else {
      add_on(m, v, s[agent], expect, 1, wrong);
    }
    ++expect;
    EXPECT_EQ(m.state_of(v.data()),
              agent < 0 ? uvm::page_state::host_exclusive : uvm::page_state::device_exclusive)
        << "written by " << agent;
  };
  const auto read_by = [&](int agent) {
    if (agent < 0) {
      EXPECT_EQ(v[0], expect);
    } else {
      check_on(m, v, s[agent], expect, wrong);
    }
  };
  for (int a = -1; a < 2; ++a) {
    for (int b = -1; b < 2; ++b) {
      write_by(a);
      read_by(b);
      write_by(b);
      read_by(a);
    }
  }
  for (int d = 0; d < 2; ++d) m.prefetch(v.data(), page_bytes, uvm::location::device(d), s[d]);
  m.synchronize();
  read_by(1);
  m.prefetch(v.data(), page_bytes, uvm::location::host());
  m.synchronize();
  EXPECT_EQ(wrong.load(), 0);
  EXPECT_EQ(v[0], expect);
}

// Read-mostly pages are duplicated on every device that reads them, and a write anywhere
// collapses the duplicates: later readers see the new data.
TEST(MultiDevice, ReadDuplicatesOnSeveralDevicesCollapseOnAWrite) {
  constexpr std::size_t pages = 4;
  rig t(pages, devices(3));
  auto& [m, v, s] = t;
  for (std::size_t p = 0; p < pages; ++p) v[p * words_per_page] = 5;
  m.advise(v.data(), pages * page_bytes, uvm::advice::set_read_mostly);
  std::atomic<std::uint64_t> sum{0};
  const auto read_all = [&](int d) {
    const auto view = v.const_view();
    m.parallel_for(
        pages, [=, &sum](std::size_t p) { sum.fetch_add(view.load(p * words_per_page)); }, s[d]);
    m.synchronize();  // all device work: the fault service's last batch is complete too
  };
  m.reset_stats();
  for (int d = 0; d < 3; ++d) read_all(d);
  EXPECT_EQ(sum.load(), 3 * pages * 5);
  EXPECT_EQ(m.state_of(v.data()), uvm::page_state::shared);
  EXPECT_EQ(m.stats().bytes_host_to_device, 3 * pages * page_bytes) << "one duplicate each";
  EXPECT_EQ(v[0], 5u) << "the host still reads its copy";
  // A CPU write collapses the page to the host; every device reads the new value.
  v[0] = 7;
  EXPECT_EQ(m.state_of(v.data()), uvm::page_state::host_exclusive);
  sum = 0;
  for (int d = 0; d < 3; ++d) read_all(d);
  EXPECT_EQ(sum.load(), 3 * (7 + (pages - 1) * 5));
  // A device write collapses it to that device; the others read what it wrote.
  std::atomic<int> wrong{0};
  add_on(m, v, s[1], 0, 0, wrong);  // reads 7 on page 0, 5 elsewhere: mismatches counted below
  EXPECT_EQ(wrong.load(), static_cast<int>(pages));
  const auto view = v.view();
  m.parallel_for(
      1, [=](std::size_t) { view.store(0, 9); }, s[2]);
  m.synchronize();
  EXPECT_EQ(m.state_of(v.data()), uvm::page_state::device_exclusive);
  sum = 0;
  read_all(0);
  EXPECT_EQ(sum.load(), 9 + (pages - 1) * 5);
  EXPECT_EQ(v[0], 9u);
}

// While a kernel on the owner's device may use a page, another device's kernel maps the owner's
// frame (a peer mapping) instead of moving it; what it stores there comes back to the host.
TEST(MultiDevice, APageAnotherDevicesKernelHoldsIsMappedFromThePeerAndItsStoresComeBack) {
  uvm::manager m{devices(2)};
  auto v = m.allocate<std::uint64_t>(words_per_page);
  const uvm::stream s0 = m.create_stream("d0", 0);
  const uvm::stream s1 = m.create_stream("d1", 1);
  std::atomic<int> wrong{0};
  check_on(m, v, s0, 0, wrong);  // a read: on device 0, clean
  ASSERT_EQ(m.state_of(v.data()), uvm::page_state::device_exclusive);
  std::atomic<bool> release{false};
  std::atomic<bool> holding{false};
  const auto held = v.const_view();
  m.parallel_for(
      1,
      [=, &release, &holding](std::size_t) {
        (void)held.load(0);
        holding = true;
        const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(10);
        while (!release && std::chrono::steady_clock::now() < end) std::this_thread::yield();
      },
      s0);
  while (!holding) std::this_thread::yield();
  m.reset_stats();
  const auto view = v.view();
  m.parallel_for(
      1, [=](std::size_t) { view.store(1, 42); }, s1);
  m.synchronize(s1);
  const uvm::stats st = m.stats();
  EXPECT_EQ(st.remote_mappings, 1u) << "device 1 mapped device 0's frame";
  ASSERT_EQ(st.devices.size(), 2u);
  EXPECT_EQ(st.devices[1].remote_mappings, 1u);
  EXPECT_EQ(st.bytes_device_to_device, 0u) << "the page moved under device 0's kernel";
  release = true;
  m.synchronize();
  EXPECT_EQ(v[1], 42u) << "a store through the peer mapping was lost";
  EXPECT_EQ(wrong.load(), 0);
}

// Kernels on every device and CPU threads increment their own words of the same pages, over
// and over, while the pages move between them (and are mapped from a peer while another
// device's kernel holds them): every count is exact at the end.
TEST(MultiDevice, KernelsOnEveryDeviceAndCpuThreadsLoseNoWrite) {
  constexpr unsigned n = 3;
  constexpr int rounds = 12;
  constexpr int cpu_threads = 2;
  constexpr std::size_t pages = 16;
  uvm::config cfg = devices(n, 8);  // fewer frames than pages: evictions and remote mappings
  cfg.thrashing_migrations = 3;     // and pages pinned to the host as they ping-pong
  uvm::manager m{cfg};
  auto v = m.allocate<std::uint64_t>(pages * words_per_page);
  std::vector<std::thread> threads;
  for (unsigned d = 0; d < n; ++d) {
    threads.emplace_back([&, d] {
      const uvm::stream s = m.create_stream("writer", static_cast<int>(d));
      const auto view = v.view();
      for (int r = 0; r < rounds; ++r) {
        m.parallel_for(
            pages,
            [=](std::size_t p) {
              const std::size_t i = p * words_per_page + d;
              view.store(i, view.load(i) + 1);
            },
            s);
        if (r % 4 == 3) {
          m.prefetch(v.data(), pages * page_bytes, uvm::location::device(static_cast<int>(d)), s);
        }
      }
      m.synchronize(s);
    });
  }
  for (int t = 0; t < cpu_threads; ++t) {
    threads.emplace_back([&, t] {
      for (int r = 0; r < rounds; ++r) {
        for (std::size_t p = 0; p < pages; ++p)
          ++v[p * words_per_page + n + static_cast<unsigned>(t)];
      }
    });
  }
  for (auto& t : threads) t.join();
  m.synchronize();
  for (std::size_t p = 0; p < pages; ++p) {
    for (unsigned w = 0; w < n + cpu_threads; ++w) {
      EXPECT_EQ(v[p * words_per_page + w], static_cast<std::uint64_t>(rounds))
          << "page " << p << ", word " << w;
    }
  }
}

// A device fills its frames and evicts while a kernel on another device runs on another range.
TEST(MultiDevice, EvictionOnOneDeviceWhileAnotherDevicesKernelRuns) {
  constexpr std::size_t budget = 8;
  uvm::manager m{devices(2, budget)};
  auto a = m.allocate<std::uint64_t>(3 * budget * words_per_page);
  auto b = m.allocate<std::uint64_t>(budget * words_per_page);
  for (std::size_t i = 0; i < a.size(); i += words_per_page) a[i] = i;
  const uvm::stream s0 = m.create_stream("d0", 0);
  const uvm::stream s1 = m.create_stream("d1", 1);
  std::atomic<bool> release{false};
  std::atomic<bool> started{false};
  const auto bv = b.view();
  m.parallel_for(
      1,
      [=, &release, &started](std::size_t) {
        bv.store(0, 1);
        started = true;
        const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(10);
        while (!release && std::chrono::steady_clock::now() < end) std::this_thread::yield();
      },
      s1);
  while (!started) std::this_thread::yield();
  for (int pass = 0; pass < 3; ++pass) {
    m.prefetch(a.data() + pass * budget * words_per_page, budget * page_bytes,
               uvm::location::device(0), s0);
    m.synchronize(s0);
  }
  const uvm::stats st = m.stats();
  EXPECT_GE(st.evictions, 2 * budget);
  ASSERT_EQ(st.devices.size(), 2u);
  EXPECT_EQ(st.devices[0].evictions, st.evictions) << "device 0 evicted its own frames";
  release = true;
  m.synchronize();
  for (std::size_t i = 0; i < a.size(); i += words_per_page) EXPECT_EQ(a[i], i);
  EXPECT_EQ(b[0], 1u);
}

// Attachment holds per device: a range attached to a stream on device 0 is denied to a kernel
// on device 1 even while a kernel on device 0 that may use it runs (which once made device 1's
// fault look served: it mapped device 0's frame), and it stays where it is.
TEST(MultiDevice, MemoryAttachedToAStreamOnOneDeviceIsDeniedToAnotherDevicesKernel) {
  rig t(4);
  auto& [m, v, s] = t;
  for (std::size_t p = 0; p < 4; ++p) v[p * words_per_page] = p + 1;
  m.attach(v.bytes(), uvm::attach_kind::single, s[0]);
  m.prefetch(v.bytes(), uvm::location::device(0), s[0]);
  m.synchronize();
  std::atomic<bool> release{false};
  std::atomic<bool> started{false};
  const auto view = v.const_view();
  std::atomic<std::uint64_t> seen0{0};
  m.parallel_for(
      1,
      [=, &release, &started, &seen0](std::size_t) {
        seen0 = view.load(0);
        started = true;
        const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(10);
        while (!release && std::chrono::steady_clock::now() < end) std::this_thread::yield();
      },
      s[0]);
  while (!started) std::this_thread::yield();
  std::atomic<std::uint64_t> seen1{0};
  m.parallel_for(
      1, [=, &seen1](std::size_t) { seen1 = view.load(2 * words_per_page); }, s[1]);
  EXPECT_THROW(m.synchronize(s[1]), uvm::device_fault) << "device 1 used a range attached to s[0]";
  EXPECT_EQ(seen1.load(), 0u) << "the denied access read the page";
  release = true;
  m.synchronize(s[0]);
  EXPECT_EQ(seen0.load(), 1u);
  EXPECT_EQ(m.state_of(v.data() + 2 * words_per_page), uvm::page_state::device_exclusive);
  const uvm::stats st = m.stats();
  EXPECT_EQ(st.devices[1].remote_mappings + st.devices[1].bytes_from_devices, 0u)
      << "device 1 mapped or took the page";
  EXPECT_EQ(v[2 * words_per_page], 3u);
}

// Ranges freed and the manager destroyed while kernels on several devices run: the frees wait
// for them; nothing is lost or left busy.
TEST(MultiDevice, FreesAndDestructionWaitForKernelsOnEveryDevice) {
  auto m = std::make_unique<uvm::manager>(devices(3));
  std::vector<uvm::typed_range<std::uint64_t>> ranges;
  for (int d = 0; d < 3; ++d) ranges.push_back(m->allocate<std::uint64_t>(4 * words_per_page));
  for (int d = 0; d < 3; ++d) {
    const auto view = ranges[static_cast<std::size_t>(d)].view();
    const uvm::stream s = m->create_stream("k", d);
    m->parallel_for(
        4 * words_per_page, [=](std::size_t i) { view.store(i, i); }, s);
  }
  ranges[0] = {};  // freed while its kernel may run: waits for it
  ranges[1] = {};
  EXPECT_EQ(ranges[2][4 * words_per_page - 1], 4 * words_per_page - 1);
  ranges.clear();
  m.reset();
}

// Preferred location and accessed-by name any device, and range_attributes says which: the
// device every page of the span agrees on, the devices that access every page.
TEST(MultiDevice, AdviceNamesADeviceAndTheAttributesSayWhichOne) {
  uvm::manager m{devices(3)};
  constexpr std::size_t pages = 4;
  auto v = m.allocate<std::uint64_t>(pages * words_per_page);
  const std::size_t bytes = pages * page_bytes;
  m.advise(v.data(), bytes, uvm::advice::set_preferred_location, uvm::location::device(2));
  m.advise(v.data(), bytes, uvm::advice::set_accessed_by, uvm::location::device(0));
  m.advise(v.data(), bytes, uvm::advice::set_accessed_by, uvm::location::device(2));
  uvm::range_attributes a = m.range_attributes(v.data(), bytes);
  EXPECT_EQ(a.preferred_location, uvm::location::device(2));
  EXPECT_EQ(a.accessed_by_devices, 0b101u);
  EXPECT_TRUE(a.accessed_by_device);
  m.advise(v.data(), bytes, uvm::advice::unset_accessed_by, uvm::location::device(0));
  EXPECT_EQ(m.range_attributes(v.data(), bytes).accessed_by_devices, 0b100u);
  // The halves disagree: no preferred location for the whole span, each half its own.
  m.advise(v.data(), bytes / 2, uvm::advice::set_preferred_location, uvm::location::device(1));
  EXPECT_FALSE(m.range_attributes(v.data(), bytes).preferred_location.has_value());
  EXPECT_EQ(m.range_attributes(v.data(), bytes / 2).preferred_location, uvm::location::device(1));
  m.prefetch(v.data(), bytes, uvm::location::device(1), m.create_stream("d1", 1));
  m.synchronize();
  EXPECT_EQ(m.range_attributes(v.data(), bytes).last_prefetch_location, uvm::location::device(1));
  EXPECT_THROW(m.advise(v.data(), bytes, uvm::advice::set_accessed_by, uvm::location::device(3)),
               uvm::invalid_argument);
  EXPECT_THROW(
      m.advise(v.data(), bytes, uvm::advice::set_preferred_location, uvm::location::device(-1)),
      uvm::invalid_argument);
}

// A page on its preferred device stays there: another device's kernel maps it from the peer,
// and its stores come back with the page.
TEST(MultiDevice, APageOnItsPreferredDeviceIsMappedFromThereInsteadOfMoving) {
  constexpr std::size_t pages = 4;
  rig t(pages);
  auto& [m, v, s] = t;
  m.advise(v.data(), pages * page_bytes, uvm::advice::set_preferred_location,
           uvm::location::device(1));
  std::atomic<int> wrong{0};
  add_on(m, v, s[1], 0, 1, wrong);  // on device 1, its preferred location
  m.reset_stats();
  add_on(m, v, s[0], 1, 10, wrong);
  const uvm::stats st = m.stats();
  EXPECT_EQ(st.bytes_device_to_device, 0u) << "the page left its preferred device";
  ASSERT_EQ(st.devices.size(), 2u);
  EXPECT_EQ(st.devices[0].remote_mappings, pages) << "device 0 mapped device 1's frames";
  add_on(m, v, s[1], 11, 100, wrong);  // device 1 sees device 0's stores in its own frames
  EXPECT_EQ(m.stats().bytes_device_to_device, 0u);
  for (std::size_t p = 0; p < pages; ++p) EXPECT_EQ(v[p * words_per_page], 111u) << p;
  EXPECT_EQ(wrong.load(), 0);
}

// A device that accesses a page maps it where it lives, the host or another device, while the
// devices that do not move it to themselves.
TEST(MultiDevice, ADeviceThatAccessesAPageMapsItWhereItLivesAndKeepsItMappedAcrossMoves) {
  uvm::manager m{devices(3)};
  constexpr std::size_t pages = 4;
  auto v = m.allocate<std::uint64_t>(pages * words_per_page);
  const uvm::stream s[3] = {m.create_stream("d0", 0), m.create_stream("d1", 1),
                            m.create_stream("d2", 2)};
  m.advise(v.data(), pages * page_bytes, uvm::advice::set_accessed_by, uvm::location::device(1));
  std::atomic<int> wrong{0};
  for (std::size_t p = 0; p < pages; ++p) v[p * words_per_page] = 1;  // on the host
  add_on(m, v, s[1], 1, 1, wrong);
  uvm::stats st = m.stats();
  EXPECT_EQ(st.bytes_host_to_device, 0u) << "device 1 moved a page it accesses where it lives";
  EXPECT_EQ(st.devices[1].remote_mappings, pages);
  add_on(m, v, s[0], 2, 1, wrong);  // device 0 does not: the pages move to it
  st = m.stats();
  EXPECT_EQ(st.bytes_host_to_device, pages * page_bytes);
  EXPECT_EQ(st.devices[1].remote_mappings, 2 * pages) << "device 1 mapped them at the move";
  m.reset_stats();
  add_on(m, v, s[1], 3, 1, wrong);  // through its peer mappings of device 0's frames
  st = m.stats();
  EXPECT_EQ(st.devices[1].faults, 0u) << "device 1 lost its mappings when the pages moved";
  EXPECT_EQ(st.bytes_device_to_device, 0u);
  add_on(m, v, s[2], 4, 1, wrong);  // device 2 takes them, device to device
  st = m.stats();
  EXPECT_EQ(st.bytes_device_to_device, pages * page_bytes);
  EXPECT_EQ(st.devices[1].remote_mappings, pages) << "mapped again, from device 2";
  add_on(m, v, s[1], 5, 1, wrong);
  st = m.stats();
  EXPECT_EQ(st.devices[1].faults, 0u);
  EXPECT_EQ(st.bytes_device_to_device, pages * page_bytes) << "nothing more moved";
  for (std::size_t p = 0; p < pages; ++p) EXPECT_EQ(v[p * words_per_page], 6u) << p;
  EXPECT_EQ(wrong.load(), 0);
}

// A page written by two devices in turn moves device to device until the thrashing detector
// pins it where it is (3 migrations per detection, 2 throttles, the 9th migration pins it);
// after that the other device maps it from the peer and it moves no more.
TEST(MultiDevice, APageTwoDevicesWriteInTurnIsPinnedWhereItIsAndMappedFromThePeer) {
  uvm::config cfg = devices(2);
  cfg.thrashing_migrations = 3;
  cfg.thrashing_lapse = std::chrono::seconds(5);  // every round counts, however slow the machine
  rig t(1, cfg);
  auto& [m, v, s] = t;
  std::atomic<int> wrong{0};
  constexpr int rounds = 20;
  for (int k = 0; k < rounds; ++k) {
    add_on(m, v, s[static_cast<std::size_t>(k % 2)], static_cast<std::uint64_t>(k), 1, wrong);
  }
  const uvm::stats st = m.stats();
  EXPECT_EQ(st.bytes_device_to_device, 9 * page_bytes)
      << "bounded by the pin, not by the " << rounds << " rounds";
  EXPECT_EQ(st.thrashing_throttles, 2u);
  EXPECT_EQ(st.thrashing_pins, 1u);
  ASSERT_EQ(st.devices.size(), 2u);
  EXPECT_EQ(st.devices[0].remote_mappings, 1u) << "device 0 maps device 1's frame";
  EXPECT_EQ(wrong.load(), 0);
  EXPECT_EQ(v[0], static_cast<std::uint64_t>(rounds));
}

// A device that maps a read-mostly page remote read-only, beside another device's duplicate,
// and then writes it: the write upgrades the mapping while its kernel runs (the lanes waited for
// their own kernel to end, until the fault timeout) and drops the other device's duplicate.
TEST(MultiDevice, AWriteThroughAReadOnlyRemoteMappingUpgradesItWhileTheKernelRuns) {
  uvm::config cfg = devices(2);
  cfg.fault_timeout = std::chrono::seconds(20);
  rig t(1, cfg);
  auto& [m, v, s] = t;
  v[0] = 5;
  m.advise(v.data(), page_bytes, uvm::advice::set_read_mostly, uvm::location::device());
  std::atomic<int> wrong{0};
  check_on(m, v, s[1], 5, wrong);  // device 1 keeps a read-only duplicate
  ASSERT_EQ(m.state_of(v.data()), uvm::page_state::shared);
  m.advise(v.data(), page_bytes, uvm::advice::set_accessed_by, uvm::location::device(0));
  const auto view = v.view();
  m.parallel_for(
      1, [=](std::size_t) { view.store(0, view.load(0) + 1); }, s[0]);  // a read, then a write
  EXPECT_NO_THROW(m.synchronize(s[0], std::chrono::seconds(10)));
  check_on(m, v, s[1], 6, wrong);  // device 1's duplicate is gone: it reads the new value
  EXPECT_EQ(wrong.load(), 0);
  EXPECT_EQ(v[0], 6u);
}

// A span declared at begin_launch on one device, whose pages another device's kernel wrote: they
// come to the launching device's frames (through the host) and the raw kernel sees the data.
TEST(MultiDevice, ALaunchScopeOnOneDeviceTakesThePagesAnotherDeviceHolds) {
  constexpr std::size_t pages = 4;
  rig t(pages);
  auto& [m, v, s] = t;
  std::atomic<int> wrong{0};
  add_on(m, v, s[1], 0, 7, wrong);  // device 1 holds every page, written
  {
    uvm::launch_scope scope = m.begin_launch({uvm::writes(v)}, s[0]);
    std::uint64_t* d = scope.device_pointer(v.data());
    scope.parallel_for(pages, [d](std::size_t p) { d[p * words_per_page] += 1; });  // raw
  }
  m.synchronize();
  for (std::size_t p = 0; p < pages; ++p) EXPECT_EQ(v[p * words_per_page], 8u) << p;
  EXPECT_EQ(wrong.load(), 0);
}

}  // namespace
