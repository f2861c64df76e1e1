// Every public call from many threads at once, as a multi-threaded application makes them: each
// thread runs a random mix of allocate/free, prefetch and discard (one span and batches),
// attach, launches (declared and not), synchronize (its stream, a shared one, the device),
// advise, pin/unpin, state_of, range_attributes and stats, on shared and private streams; and the
// same through the C API. Checked: nothing hangs (every wait bounded, the test has a deadline),
// no write is lost (each thread counts exactly what it and its kernels wrote), and no call
// throws what the docs do not promise for it. UVM_STRESS_SECONDS (default 2) sets the length.
#include "tests/migration/emulated_config.hpp"

#include <uvm/uvm.h>
#include <uvm/launch.hpp>
#include <uvm/uvm.hpp>

#include <gtest/gtest.h>

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <random>
#include <span>
#include <string>
#include <thread>
#include <vector>

namespace {

using namespace std::chrono_literals;

std::chrono::milliseconds stress_time() {
  const char* s = std::getenv("UVM_STRESS_SECONDS");
  const double seconds = s != nullptr ? std::atof(s) : 2.0;
  return std::chrono::milliseconds(static_cast<long>(seconds * 1000));
}

constexpr unsigned threads = 6;
constexpr std::size_t pages = 8;                  // of each thread's own range
constexpr std::size_t cpu_words = 4;              // per page: words 0..3 the CPU increments
constexpr std::size_t kernel_word = 4;            // per page: the word its kernels increment
constexpr auto bound = std::chrono::seconds(60);  // every synchronize: a hang is an error

/// Adds one to word `kernel_word` of every page of a range.
struct increment_pages {
  uvm::device_view<std::uint32_t> a;
  std::size_t per_page;
  UVM_HOST_DEVICE void operator()(std::size_t p) const {
    const std::size_t at = p * per_page + kernel_word;
    a.store(at, a.load(at) + 1);
  }
};

struct api_case {
  std::size_t budget_pages;  // below threads * pages: oversubscribed
};

class ApiStress : public ::testing::TestWithParam<api_case> {};

// One thread's random walk over the public API. Its own range `mine` holds exact counters; the
// scratch range takes discards; temporaries are allocated and freed.
class walker {
 public:
  walker(uvm::manager& m, unsigned id, std::span<const uvm::stream> shared)
      : m_(m),
        id_(id),
        shared_(shared),
        rng_(id * 7919 + 1),
        own_(m.create_stream("own")),
        per_page_(m.configuration().page_size / 4),
        mine_(m.allocate<std::uint32_t>(pages * per_page_)),
        scratch_(m.allocate<std::uint32_t>(2 * per_page_)) {
    for (std::size_t p = 0; p < pages; ++p) {
      for (std::size_t w = 0; w <= kernel_word; ++w) mine_[p * per_page_ + w] = 0;
    }
  }

  void step() {
    switch (rng_() % 16) {
      case 0:
      case 1: cpu_increment(); break;
      case 2:
      case 3: launch_increment(); break;
      case 4: prefetch_mine(); break;
      case 5: batch_prefetch(); break;
      case 6: discard_scratch(); break;
      case 7: reattach(); break;
      case 8: temporary(); break;
      case 9: advise(); break;
      case 10: pin(); break;
      case 11: m_.synchronize(any_stream(), bound); break;
      case 12: m_.synchronize({}, bound); break;
      case 13: look(); break;
      default: cpu_increment(); break;
    }
  }

  void finish() {
    m_.synchronize({}, bound);
    if (attached_ == uvm::attach_kind::single) m_.synchronize(own_, bound);
  }

  /// Words whose value differs from what this thread counted (the first few are reported).
  [[nodiscard]] std::size_t lost() {
    std::size_t n = 0;
    const auto check = [&](std::size_t p, std::size_t w, std::uint32_t expected) {
      const std::uint32_t seen = mine_[p * per_page_ + w];
      if (seen == expected) return;
      if (n++ < 4) {
        ADD_FAILURE() << "thread " << id_ << ", page " << p << ", word " << w << ": " << seen
                      << ", counted " << expected << " (now "
                      << uvm::to_string(m_.state_of(mine_.data() + p * per_page_)) << ")";
      }
    };
    for (std::size_t p = 0; p < pages; ++p) {
      for (std::size_t w = 0; w < cpu_words; ++w) check(p, w, cpu_[p][w]);
      check(p, kernel_word, kernels_);
    }
    return n;
  }
  [[nodiscard]] std::uint32_t kernels() const noexcept { return kernels_; }

 private:
  const uvm::stream& any_stream() {
    const std::size_t k = rng_() % (shared_.size() + 1);
    return k == shared_.size() ? own_ : shared_[k];
  }
  // A stream whose kernels may use `mine` under its current attachment.
  const uvm::stream& launch_stream() {
    return attached_ == uvm::attach_kind::single ? own_ : any_stream();
  }

  // Queued moves go on any stream, the walker's own or a shared one, and half of them are not
  // waited for: they overlap the walker's next kernels and CPU accesses, and other walkers'.
  const uvm::stream& move_stream() { return any_stream(); }
  void moves_done(const uvm::stream& s) {
    if (rng_() % 2 == 0) m_.synchronize(s, bound);
  }

  void cpu_increment() {
    const std::size_t p = rng_() % pages;
    const std::size_t w = rng_() % cpu_words;
    mine_[p * per_page_ + w] += 1;
    ++cpu_[p][w];
  }

  void launch_increment() {
    if (attached_ == uvm::attach_kind::host) return;  // no kernel may use it
    const uvm::stream& s = launch_stream();
    const increment_pages body{mine_.view(), per_page_};
    if (rng_() % 2 == 0) {
      uvm::launch(m_, pages, body, s, {uvm::writes(mine_)});
    } else {
      uvm::launch(m_, pages, body, s);
    }
    ++kernels_;
    // Its increments and the CPU's are to different words, but the next kernel's read this
    // one's: order them (stream or device, at random).
    m_.synchronize(rng_() % 4 == 0 ? uvm::stream{} : s, bound);
  }

  uvm::location somewhere() {
    return rng_() % 2 == 0 ? uvm::location::device() : uvm::location::host();
  }

  void prefetch_mine() {
    const std::size_t first = rng_() % pages;
    const std::size_t count = 1 + rng_() % (pages - first);
    const uvm::stream& s = move_stream();
    m_.prefetch(mine_.data() + first * per_page_, count * m_.configuration().page_size, somewhere(),
                s);
    moves_done(s);
  }

  void batch_prefetch() {
    const uvm::prefetch_span spans[] = {{mine_.data(), mine_.bytes().size(), somewhere()},
                                        {scratch_.data(), scratch_.bytes().size(), somewhere()}};
    const uvm::stream& s = move_stream();
    m_.prefetch(spans, s);
    moves_done(s);
  }

  void discard_scratch() {
    const uvm::stream& s = move_stream();
    if (rng_() % 2 == 0) {
      m_.discard(scratch_.data(), scratch_.bytes().size(), s);
    } else {
      const uvm::prefetch_span span{scratch_.data(), scratch_.bytes().size(), somewhere()};
      m_.discard_and_prefetch({&span, 1}, s);
    }
    m_.synchronize(s, bound);
    EXPECT_EQ(scratch_[per_page_ + 1], 0u) << "a discarded page did not read zero";
    scratch_[per_page_ + 1] = id_ + 1;
  }

  void reattach() {
    const uvm::attach_kind k = std::array{uvm::attach_kind::global, uvm::attach_kind::single,
                                          uvm::attach_kind::host}[rng_() % 3];
    // In effect before anything else is queued: kernels then follow the new attachment.
    m_.synchronize({}, bound);
    m_.attach(mine_.bytes(), k, k == uvm::attach_kind::single ? own_ : uvm::stream{});
    m_.synchronize({}, bound);
    m_.synchronize(own_, bound);
    attached_ = k;
    EXPECT_EQ(m_.range_attributes(mine_.data(), 4).attachment, k);
  }

  void temporary() {
    auto t = m_.allocate<std::uint32_t>(per_page_ * (1 + rng_() % 3));
    t[0] = id_;
    if (rng_() % 2 == 0) {
      const uvm::stream& s = move_stream();
      m_.prefetch(t.bytes(), uvm::location::device(), s);
      moves_done(s);
    }
    if (rng_() % 2 == 0) EXPECT_EQ(t[0], id_);
    // Freed here: the free waits for its queued prefetch and the kernels that may use it.
  }

  void advise() {
    const uvm::advice a = std::array{uvm::advice::set_read_mostly, uvm::advice::unset_read_mostly,
                                     uvm::advice::set_preferred_location,
                                     uvm::advice::unset_preferred_location}[rng_() % 4];
    m_.advise(mine_.data(), mine_.bytes().size(), a, somewhere());
  }

  void pin() {
    const std::size_t p = rng_() % pages;
    const void* at = mine_.data() + p * per_page_;
    const std::size_t bytes = m_.configuration().page_size;
    const uvm::location where = somewhere();
    try {
      m_.pin_resident(at, bytes, where);
    } catch (const uvm::out_of_memory&) {
      return;  // promised when the device budget cannot hold the pages
    } catch (const uvm::timeout&) {
      return;  // promised when other threads' queued moves keep taking the pages back
    }
    if (rng_() % 2 == 0) cpu_increment();
    m_.unpin(at, bytes);
  }

  void look() {
    (void)m_.state_of(mine_.data() + (rng_() % pages) * per_page_);
    (void)m_.range_attributes(mine_.data(), mine_.bytes().size());
    const uvm::stats s = m_.stats();
    EXPECT_GE(s.live_ranges, 1u);
  }

  uvm::manager& m_;
  unsigned id_;
  std::span<const uvm::stream> shared_;
  std::minstd_rand rng_;
  uvm::stream own_;
  std::size_t per_page_;
  uvm::typed_range<std::uint32_t> mine_;
  uvm::typed_range<std::uint32_t> scratch_;
  std::array<std::array<std::uint32_t, cpu_words>, pages> cpu_{};
  std::uint32_t kernels_ = 0;
  uvm::attach_kind attached_ = uvm::attach_kind::global;
};

TEST_P(ApiStress, EveryPublicCallFromManyThreadsAtOnce) {
  const api_case c = GetParam();
  constexpr std::size_t page = 64 << 10;
  uvm::config cfg = uvm::testing::emulated(page, c.budget_pages * page);
  cfg.fault_timeout = 30s;
  uvm::manager mgr(cfg);
  const std::array<uvm::stream, 2> shared{mgr.create_stream("shared-a"),
                                          mgr.create_stream("shared-b")};
  // The default stream is shared too.
  const std::array<uvm::stream, 3> streams{shared[0], shared[1], uvm::stream{}};
  const auto until = std::chrono::steady_clock::now() + stress_time();
  std::atomic<unsigned> failures{0};
  std::vector<std::size_t> lost(threads);
  std::vector<std::uint32_t> kernels(threads);
  std::vector<std::thread> pool;
  for (unsigned t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      try {
        walker w(mgr, t, streams);
        while (std::chrono::steady_clock::now() < until) w.step();
        w.finish();
        lost[t] = w.lost();
        kernels[t] = w.kernels();
      } catch (const std::exception& e) {
        if (failures.fetch_add(1) == 0) ADD_FAILURE() << "thread " << t << ": " << e.what();
      }
    });
  }
  for (std::thread& th : pool) th.join();
  EXPECT_EQ(failures.load(), 0u) << "calls threw what their docs do not promise";
  for (unsigned t = 0; t < threads; ++t) {
    EXPECT_EQ(lost[t], 0u) << "thread " << t << " lost writes (" << kernels[t] << " kernels)";
  }
  mgr.synchronize({}, bound);
  EXPECT_EQ(mgr.stats().live_ranges, 0u);
}

INSTANTIATE_TEST_SUITE_P(Cases, ApiStress,
                         ::testing::Values(api_case{threads * pages * 4}, api_case{16}),
                         [](const auto& info) {
                           return info.param.budget_pages < threads * pages ? "oversubscribed"
                                                                            : "fits";
                         });

// The same through the C API: several threads allocate, prefetch (one span, batches), discard,
// attach, advise, query and synchronize, each counting its own CPU writes.
TEST(ApiStressC, EveryCallFromManyThreadsAtOnce) {
  const auto until = std::chrono::steady_clock::now() + stress_time();
  std::atomic<unsigned> failures{0};
  std::vector<std::thread> pool;
  uvmStream_t shared = nullptr;
  ASSERT_EQ(uvmStreamCreate(&shared), uvmSuccess);
  const auto check = [&](uvmError_t e, const char* call, unsigned t) {
    if (e == uvmSuccess) return true;
    if (failures.fetch_add(1) == 0) {
      ADD_FAILURE() << "thread " << t << ": " << call << ": " << uvmGetErrorName(e) << ": "
                    << uvmGetLastErrorMessage();
    }
    return false;
  };
  for (unsigned t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      std::minstd_rand rng(t + 11);
      constexpr std::size_t bytes = 256 << 10;
      constexpr std::size_t words = bytes / 4;
      std::uint32_t* mine = nullptr;
      if (!check(uvmMallocManaged(reinterpret_cast<void**>(&mine), bytes, uvmMemAttachGlobal),
                 "uvmMallocManaged", t)) {
        return;
      }
      uvmStream_t own = nullptr;
      if (!check(uvmStreamCreate(&own), "uvmStreamCreate", t)) return;
      std::vector<std::uint32_t> counted(words / 1024, 0);
      for (std::size_t i = 0; i < counted.size(); ++i) mine[i * 1024] = 0;
      while (std::chrono::steady_clock::now() < until && failures.load() == 0) {
        const uvmStream_t s = rng() % 3 == 0 ? nullptr : (rng() % 2 == 0 ? shared : own);
        const int to = rng() % 2 == 0 ? 0 : uvmCpuDeviceId;
        switch (rng() % 9) {
          case 0:
          case 1: {
            const std::size_t i = rng() % counted.size();
            mine[i * 1024] += 1;
            ++counted[i];
            break;
          }
          case 2: check(uvmMemPrefetchAsync(mine, bytes, to, s), "uvmMemPrefetchAsync", t); break;
          case 3: {
            void* p = nullptr;
            if (!check(uvmMallocManaged(&p, 64 << 10, uvmMemAttachGlobal), "uvmMallocManaged", t)) {
              break;
            }
            static_cast<std::uint32_t*>(p)[0] = t;
            void* ptrs[] = {p, mine};
            std::size_t sizes[] = {64 << 10, bytes};
            int locs[] = {to};
            std::size_t idx[] = {0};
            check(uvmMemPrefetchBatchAsync(ptrs, sizes, 2, locs, idx, 1, 0, s),
                  "uvmMemPrefetchBatchAsync", t);
            check(uvmMemDiscardBatchAsync(ptrs, sizes, 1, 0, s), "uvmMemDiscardBatchAsync", t);
            check(uvmStreamSynchronize(s), "uvmStreamSynchronize", t);
            if (static_cast<std::uint32_t*>(p)[0] != 0 && failures.fetch_add(1) == 0) {
              ADD_FAILURE() << "a discarded page did not read zero";
            }
            check(uvmFree(p), "uvmFree", t);
            break;
          }
          case 4: {
            const unsigned flags = std::array{uvmMemAttachGlobal, uvmMemAttachHost}[rng() % 2];
            check(uvmStreamAttachMemAsync(own, mine, 0, flags), "uvmStreamAttachMemAsync", t);
            check(uvmStreamSynchronize(own), "uvmStreamSynchronize", t);
            break;
          }
          case 5:
            check(uvmMemAdvise(mine, bytes, uvmMemAdviseSetPreferredLocation, to), "uvmMemAdvise",
                  t);
            break;
          case 6: {
            int loc = 0;
            check(uvmMemRangeGetAttribute(&loc, sizeof loc,
                                          uvmMemRangeAttributeLastPrefetchLocation, mine, bytes),
                  "uvmMemRangeGetAttribute", t);
            break;
          }
          case 7: check(uvmStreamSynchronize(s), "uvmStreamSynchronize", t); break;
          default: check(uvmDeviceSynchronize(), "uvmDeviceSynchronize", t); break;
        }
      }
      check(uvmDeviceSynchronize(), "uvmDeviceSynchronize", t);
      std::size_t lost = 0;
      for (std::size_t i = 0; i < counted.size(); ++i) lost += mine[i * 1024] != counted[i];
      EXPECT_EQ(lost, 0u) << "thread " << t;
      check(uvmStreamDestroy(own), "uvmStreamDestroy", t);
      check(uvmFree(mine), "uvmFree", t);
    });
  }
  for (std::thread& th : pool) th.join();
  EXPECT_EQ(failures.load(), 0u);
  EXPECT_EQ(uvmStreamDestroy(shared), uvmSuccess);
}

}  // namespace
