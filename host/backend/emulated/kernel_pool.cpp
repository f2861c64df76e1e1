#include "host/backend/emulated/kernel_pool.hpp"

#include "host/backend/emulated/completion.hpp"
#include "host/telemetry/nvtx.hpp"

#include <uvm/detail/current_device.hpp>

#include <algorithm>
#include <atomic>
#include <exception>
#include <string>
#include <utility>

#include <fmt/format.h>

namespace uvm::detail {

struct kernel_pool::grid {
  kernel_body body;
  std::size_t n;
  std::size_t chunk;                      // indices per chunk
  std::size_t chunks;                     // ceil(n / chunk)
  std::atomic<std::size_t> next{0};       // next chunk to claim
  std::atomic<std::size_t> remaining{0};  // chunks not yet finished
  completion done;
};

kernel_pool::kernel_pool(unsigned workers, error_sink& errors, device_id device) : errors_(errors) {
  workers = std::max(workers, 1u);
  threads_.reserve(workers);
  try {
    for (unsigned i = 0; i < workers; ++i) {
      threads_.emplace_back([this, i, device] { work(i, device); });
    }
  } catch (...) {
    stop();  // the threads already started must be joined before the exception leaves
    throw;
  }
}

kernel_pool::~kernel_pool() {
  stop();
}

void kernel_pool::stop() noexcept {
  {
    const std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  cv_.notify_all();
  for (auto& t : threads_) t.join();
  threads_.clear();
}

namespace {
// ceil(a / b) without the overflow of (a + b - 1) / b.
std::size_t div_ceil(std::size_t a, std::size_t b) {
  return a / b + (a % b != 0 ? 1 : 0);
}
}  // namespace

bool kernel_pool::wait_idle(std::chrono::nanoseconds timeout) {
  std::unique_lock lock(mutex_);
  return idle_.wait_for(lock, timeout, [this] { return running_ == 0; });
}

void kernel_pool::run(std::size_t n, kernel_body body) {
  if (n == 0) return;
  {
    const std::lock_guard lock(mutex_);
    ++running_;
  }
  struct running_guard {
    kernel_pool& pool;
    ~running_guard() {
      {
        const std::lock_guard lock(pool.mutex_);
        --pool.running_;
      }
      pool.idle_.notify_all();
    }
  } guard{*this};
  // Only the pool's threads run chunks, as only SMs run blocks: a kernel whose chunks hold every
  // worker (faulting, spinning) keeps later kernels of any stream from starting until it
  // returns, as on a GPU, where running blocks are never pre-empted.
  const std::size_t executors = threads_.size();
  // A few chunks per executor balance uneven bodies without paying a claim per index.
  const std::size_t target = std::min(n, executors * 4);
  auto g = std::make_shared<grid>();
  g->body = std::move(body);
  g->n = n;
  g->chunk = div_ceil(n, target);
  g->chunks = div_ceil(n, g->chunk);
  g->remaining.store(g->chunks, std::memory_order_relaxed);

  const std::size_t helpers = std::min(g->chunks, threads_.size());
  {
    const std::lock_guard lock(mutex_);
    help_.insert(help_.end(), helpers, g);
  }
  cv_.notify_all();
  g->done.wait();
}

void kernel_pool::work(unsigned index, device_id device) noexcept {
  name_thread(
      (device == 0 ? fmt::format("uvm-kernel-{}", index) : fmt::format("uvm-k{}-{}", device, index))
          .c_str());
  emulated_device = device;
  for (;;) {
    std::shared_ptr<grid> g;
    {
      std::unique_lock lock(mutex_);
      cv_.wait(lock, [this] { return !help_.empty() || stopping_; });
      if (stopping_) return;  // every grid has finished: run() waits for its own
      g = std::move(help_.front());
      help_.pop_front();
    }
    execute(*g);
  }
}

void kernel_pool::execute(grid& g) noexcept {
  for (;;) {
    const std::size_t c = g.next.fetch_add(1, std::memory_order_relaxed);
    if (c >= g.chunks) return;
    const std::size_t begin = c * g.chunk;
    const std::size_t end = begin + std::min(g.chunk, g.n - begin);
    try {
      g.body(begin, end);
    } catch (...) {
      report_current(begin, end);
    }
    // acq_rel: the last finisher's release of `done` must carry every other chunk's writes.
    if (g.remaining.fetch_sub(1, std::memory_order_acq_rel) == 1) g.done.complete();
  }
}

void kernel_pool::report_current(std::size_t begin, std::size_t end) noexcept {
  try {
    std::string what = "a non-standard exception";
    try {
      throw;
    } catch (const std::exception& e) {
      what = e.what();
    } catch (...) {
    }
    errors_.report(fmt::format("emulated kernel, indices [{}, {}), threw: {}", begin, end, what));
  } catch (...) {
    // Out of memory while formatting: the pool thread must survive, the message is lost.
  }
}

}  // namespace uvm::detail
