// stress: CPU threads incrementing words of every page of one range while a thread relaunches
// kernels that increment other words of the same pages and a thread prefetches random spans both
// ways, on the emulated device. Reports the CPU threads' operations per second against the same
// CPU work with no kernels and no prefetches (the baseline, measured in the same run), kernels
// and prefetches per second, and the writes lost on each side (counted, never assumed: every
// counter is checked at the end; anything but 0 is a bug).

#include "bench/size_label.hpp"
#include "bench/suite.hpp"

#include <uvm/uvm.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <random>
#include <string>
#include <thread>
#include <vector>

namespace bench {

namespace {

constexpr unsigned cpu_threads = 8;
constexpr std::size_t kernel_words = 8;  // per page, after the CPU threads' words

struct outcome {
  double seconds = 0;
  std::uint64_t cpu_ops = 0;
  std::uint64_t kernels = 0;
  std::uint64_t prefetches = 0;
  std::uint64_t lost_cpu = 0;
  std::uint64_t lost_kernel = 0;
};

outcome run_once(std::size_t page_size, std::size_t pages, std::size_t budget_pages,
                 std::chrono::milliseconds length, bool with_device) {
  uvm::config cfg = uvm::config::from_env();
  cfg.backend = uvm::backend_kind::emulated;  // parallel_for kernels run on the emulated device
  cfg.page_size = page_size;
  cfg.device_budget = budget_pages * page_size;
  uvm::manager mgr(cfg);
  const std::size_t words_per_page = page_size / 4;
  auto a = mgr.allocate<std::uint32_t>(pages * words_per_page);
  std::uint32_t* w = a.data();
  auto v = a.view();
  std::atomic<bool> stop{false};
  std::vector<std::vector<std::uint32_t>> counts(cpu_threads, std::vector<std::uint32_t>(pages));
  std::atomic<std::uint64_t> kernels{0};
  std::atomic<std::uint64_t> prefetches{0};
  std::vector<std::thread> threads;
  const auto start = std::chrono::steady_clock::now();
  for (unsigned t = 0; t < cpu_threads; ++t) {
    threads.emplace_back([&, t] {
      std::minstd_rand rng(t + 1);
      while (!stop.load(std::memory_order_relaxed)) {
        const std::size_t p = rng() % pages;
        w[p * words_per_page + t] += 1;
        ++counts[t][p];
      }
    });
  }
  if (with_device) {
    threads.emplace_back([&] {
      const std::size_t n = pages * kernel_words;
      while (!stop) {
        mgr.parallel_for(n, [=](std::size_t i) {
          const std::size_t at =
              (i / kernel_words) * words_per_page + cpu_threads + i % kernel_words;
          v.store(at, v.load(at) + 1);
        });
        mgr.synchronize();
        ++kernels;
      }
    });
    threads.emplace_back([&] {
      std::minstd_rand rng(99);
      const uvm::stream s = mgr.create_stream("stress-prefetch");
      while (!stop) {
        const std::size_t first = rng() % pages;
        const std::size_t count = 1 + rng() % std::min<std::size_t>(8, pages - first);
        const auto to = rng() % 2 != 0 ? uvm::location::device() : uvm::location::host();
        try {
          (void)mgr.prefetch(w + first * words_per_page, count * page_size, to, s);
        } catch (const uvm::timeout&) {
        }
        ++prefetches;
      }
    });
  }
  std::this_thread::sleep_for(length);
  stop = true;
  for (auto& t : threads) t.join();
  outcome o;
  o.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  o.kernels = kernels;
  o.prefetches = prefetches;
  for (std::size_t p = 0; p < pages; ++p) {
    for (unsigned t = 0; t < cpu_threads; ++t) {
      o.cpu_ops += counts[t][p];
      o.lost_cpu += counts[t][p] - w[p * words_per_page + t];
    }
    for (std::size_t k = 0; k < kernel_words; ++k) {
      o.lost_kernel += o.kernels - w[p * words_per_page + cpu_threads + k];
    }
  }
  return o;
}

std::vector<record> run(const options& opt) {
  const auto length = std::chrono::milliseconds(opt.quick ? 500 : 3000);
  struct shape {
    std::size_t page_size, pages, budget_pages;
  };
  const shape shapes[] = {{64 << 10, 32, 64}, {64 << 10, 32, 8}, {4 << 10, 128, 32}};
  std::vector<record> out;
  for (const shape& s : shapes) {
    const outcome base = run_once(s.page_size, s.pages, s.budget_pages, length, false);
    const outcome o = run_once(s.page_size, s.pages, s.budget_pages, length, true);
    const std::vector<param> params{{"page_size", static_cast<std::int64_t>(s.page_size)},
                                    {"pages", static_cast<std::int64_t>(s.pages)},
                                    {"budget_pages", static_cast<std::int64_t>(s.budget_pages)},
                                    {"cpu_threads", static_cast<std::int64_t>(cpu_threads)}};
    const std::string where =
        size_label(s.page_size) + (s.budget_pages < s.pages ? " oversubscribed" : " fits");
    auto make = [&](std::string name, std::string unit, double value) {
      record r;
      r.suite = "stress";
      r.name = std::move(name) + " " + where;
      r.unit = std::move(unit);
      r.value = value;
      r.samples = 1;
      r.params = params;
      return r;
    };
    record baseline =
        make("cpu ops, no kernels", "ops/s", static_cast<double>(base.cpu_ops) / base.seconds);
    record cpu = make("cpu ops beside kernels and prefetches", "ops/s",
                      static_cast<double>(o.cpu_ops) / o.seconds);
    cpu.compare_to(baseline);
    out.push_back(baseline);
    out.push_back(cpu);
    out.push_back(make("kernels", "1/s", static_cast<double>(o.kernels) / o.seconds));
    out.push_back(make("prefetches", "1/s", static_cast<double>(o.prefetches) / o.seconds));
    out.push_back(
        make("lost cpu writes", "writes", static_cast<double>(o.lost_cpu + base.lost_cpu)));
    out.push_back(make("lost kernel writes", "writes", static_cast<double>(o.lost_kernel)));
  }
  return out;
}

const suite_registration registration{
    "stress",
    "8 CPU threads incrementing words of every page beside relaunched kernels and random "
    "prefetches (emulated device): CPU ops/s vs the same CPU work alone, and lost writes",
    run};

}  // namespace

}  // namespace bench
