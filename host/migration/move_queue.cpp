#include "host/migration/move_queue.hpp"

#include "host/telemetry/log.hpp"
#include "host/telemetry/nvtx.hpp"

#include <uvm/error.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <utility>

namespace uvm::detail {

move_queue::move_queue(backend& b, migrator& m, std::chrono::nanoseconds timeout, std::mutex& issue,
                       device_model* model)
    : backend_(b), migrator_(m), timeout_(timeout), issue_(issue), model_(model), worker_([this] {
        run();
      }) {}

move_queue::~move_queue() {
  stop();
}

void move_queue::enqueue(std::vector<item> items, const stream& s) {
  {
    // Back-pressure, as a full CUDA launch queue blocks the host: about max_queued at once.
    std::unique_lock lock(mutex_);
    if (!done_.wait_for(lock, timeout_, [&] { return queue_.size() < max_queued; })) {
      throw uvm::timeout(fmt::format(
          "uvm: {} prefetches or discards were still queued after the fault timeout ({} ms); "
          "this one was not queued",
          max_queued, std::chrono::duration_cast<std::chrono::milliseconds>(timeout_).count()));
    }
  }
  request r;
  r.on = s;
  r.queued = std::chrono::steady_clock::now();
  for (const item& i : items) {
    if (i.what != op::to_device) r.back.push_back(migrator::pages_of(*i.range, i.first, i.count));
  }
  r.items = std::move(items);
  // The worker runs a stream's operations in queue order, the first one once its event has
  // completed: the queue must hold them in the stream's order. Two threads that interleaved
  // event and gate (A's event, A's gate, B's event, B's gate, B queued first) would leave B
  // first in the queue behind A's closed gate, and the stream stuck for good.
  bool gated = true;
  std::uint64_t id = 0;
  {
    // While a range allocated during kernels waits for its registration, the operation goes
    // behind the gate that holds the stream's later kernels: it may wait for those kernels, and
    // what is before the gate must not.
    const std::unique_lock issue = migrator_.lock_issue(issue_, s, migrator_.next_ticket());
    r.start = backend_.record(s);
    r.after = backend_.enqueue_gate(s);
    gated = r.after != nullptr;
    bool issued = false;
    try {
      r.at = migrator_.issue(r.back, s, gated);
      issued = true;
      if (model_ != nullptr) {
        r.modelled = model_->issue_moves(device_model::key_of(s.get()), backend_.device_of(s));
      }
      r.waits = !r.back.empty();
      const std::lock_guard lock(mutex_);
      id = r.id = next_id_++;
      queue_.push_back(std::move(r));
    } catch (...) {
      if (issued) migrator_.finish_operation(r.at);
      if (r.after) backend_.open_gate(r.after);
      throw;
    }
  }
  wake_.notify_one();
  if (gated) return;
  // A backend without gates (a CUDA driver without stream memory operations): nothing holds
  // the stream's later work back, so the call returns once the operation has run, as a
  // synchronous call would. Bounded: past twice the timeout (the stream's earlier work, then
  // the kernels in the way) it is reported, and the operation runs when the stream reaches it.
  std::unique_lock lock(mutex_);
  if (!done_.wait_for(lock, 2 * timeout_, [&] {
        return std::none_of(queue_.begin(), queue_.end(),
                            [id](const request& q) { return q.id == id; });
      })) {
    throw uvm::timeout(fmt::format(
        "uvm: a prefetch or discard on a backend without stream gates waited {} ms for its "
        "stream's earlier work and the kernels in its way; it runs when they finish, unordered "
        "with the stream's later work",
        std::chrono::duration_cast<std::chrono::milliseconds>(2 * timeout_).count()));
  }
}

bool move_queue::ready(request& r, std::chrono::steady_clock::time_point now) noexcept {
  if (r.reached == std::chrono::steady_clock::time_point{}) {
    if (!backend_.query(r.start)) return false;  // the stream has not reached it
    r.reached = now;
  }
  if (now - r.reached > timeout_) return true;  // runs, and reports the kernels still in the way
  // Once claimed, no kernel that may use the pages starts on another stream until it is done:
  // running it never waits for a kernel (which could sit behind another operation's gate).
  return !r.waits || migrator_.claim(r.back, r.at);
}

void move_queue::run() noexcept {
  name_thread("uvm-moves");
  std::unique_lock lock(mutex_);
  for (;;) {
    const std::size_t copying = finish_landed(lock);
    if (queue_.empty()) {
      if (stopping_) return;
      wake_.wait(lock);
      continue;
    }
    const auto now = std::chrono::steady_clock::now();
    request* pick = nullptr;
    std::vector<const stream_base*> seen;  // streams whose first operation is not ready
    for (request& r : queue_) {
      if (std::find(seen.begin(), seen.end(), r.on.get()) != seen.end()) continue;
      if (!r.running && !overlaps_in_flight(r) && ready(r, now)) {
        pick = &r;
        break;
      }
      try {
        seen.push_back(r.on.get());
      } catch (...) {
        break;
      }
    }
    if (pick == nullptr && stopping_) {
      // Stopping, and a stream does not reach its operation: drop it after the timeout.
      for (request& r : queue_) {
        if (r.running || now - r.queued <= timeout_) continue;
        log().error(
            "a queued prefetch or discard was dropped: its stream did not reach it "
            "within the fault timeout before the manager ended");
        pick = &r;
        r.items.clear();
        break;
      }
    }
    if (pick == nullptr) {
      // Nothing ready: the stream or the kernels in the way finish without a wake-up. With a
      // move copying, its copies landing end the nap.
      const auto in_flight = std::find_if(queue_.begin(), queue_.end(),
                                          [](const request& q) { return q.copying.id != 0; });
      if (in_flight == queue_.end()) {
        wake_.wait_for(lock, std::chrono::microseconds(100));
        continue;
      }
      const event landed = in_flight->copying.done;
      lock.unlock();
      (void)backend_.wait(landed, std::chrono::microseconds(100));
      lock.lock();
      continue;
    }
    // Left copying only while another operation may use the time.
    const bool leave = copying < max_in_flight &&
                       std::any_of(queue_.begin(), queue_.end(),
                                   [pick](const request& q) { return &q != pick && !q.running; });
    pick->running = true;
    lock.unlock();
    execute(*pick, leave);
    lock.lock();
    if (pick->copying.id != 0) {
      pick->executed = std::chrono::steady_clock::now();
      continue;
    }
    queue_.remove_if([pick](const request& r) { return &r == pick; });
    done_.notify_all();
  }
}

std::size_t move_queue::finish_landed(std::unique_lock<std::mutex>& lock) {
  std::size_t copying = 0;
  const auto now = std::chrono::steady_clock::now();
  for (auto it = queue_.begin(); it != queue_.end();) {
    request& r = *it;
    if (r.copying.id == 0) {
      ++it;
      continue;
    }
    if (!backend_.query(r.copying.done) && now - r.executed <= timeout_) {
      ++copying;
      ++it;
      continue;
    }
    lock.unlock();
    migrator_.finish_in_flight(r.copying);
    finish(r);
    lock.lock();
    it = queue_.erase(it);  // only this thread removes entries
    done_.notify_all();
  }
  return copying;
}

bool move_queue::overlaps_in_flight(const request& r) const noexcept {
  for (const request& q : queue_) {
    if (q.copying.id == 0) continue;
    for (const item& a : q.items) {
      for (const item& b : r.items) {
        if (a.range == b.range && a.first < b.first + b.count && b.first < a.first + a.count) {
          return true;
        }
      }
    }
  }
  return false;
}

void move_queue::execute(request& r, bool leave) noexcept {
  UVM_NVTX_RANGE("queued moves", r.items.size());
  const device_model::charge_scope charge({device_model::target::kind::moves, r.modelled});
  for (std::size_t k = 0; k < r.items.size(); ++k) {
    const item& i = r.items[k];
    // The last item's copies may be left in flight: nothing of the operation follows them.
    migrator::in_flight_move* in_flight = leave && k + 1 == r.items.size() ? &r.copying : nullptr;
    try {
      switch (i.what) {
        case op::to_device:
          (void)migrator_.prefetch(*i.range, i.first, i.count, true, r.at, i.device, in_flight);
          break;
        case op::to_host:
          (void)migrator_.prefetch(*i.range, i.first, i.count, false, r.at, 0, in_flight);
          break;
        case op::discard: (void)migrator_.discard(*i.range, i.first, i.count, r.at); break;
      }
    } catch (const std::exception& e) {
      fail(e.what());
    }
  }
  if (r.copying.id == 0) finish(r);
}

void move_queue::finish(request& r) noexcept {
  // Charged before the gate opens: the stream's later work, and a synchronize, come after it.
  if (model_ != nullptr) model_->moves_done(r.modelled);
  migrator_.finish_operation(r.at);
  if (r.after) backend_.open_gate(r.after);  // the stream's later work may run
}

void move_queue::fail(const std::string& what) noexcept {
  log().error("a queued prefetch or discard failed: {}", what);
  try {
    const std::lock_guard lock(mutex_);
    if (error_.empty()) error_ = what;
  } catch (...) {
  }
}

std::string move_queue::take_error() {
  const std::lock_guard lock(mutex_);
  return std::exchange(error_, {});
}

bool move_queue::wait_range(const managed_range* r, std::chrono::nanoseconds timeout) noexcept {
  std::unique_lock lock(mutex_);
  return done_.wait_for(lock, timeout, [&] {
    return std::none_of(queue_.begin(), queue_.end(), [r](const request& q) {
      return std::any_of(q.items.begin(), q.items.end(),
                         [r](const item& i) { return i.range == r; });
    });
  });
}

bool move_queue::wait_queued(std::chrono::nanoseconds timeout) noexcept {
  std::unique_lock lock(mutex_);
  const std::uint64_t before = next_id_;
  return done_.wait_for(lock, timeout, [&] {
    return std::none_of(queue_.begin(), queue_.end(),
                        [before](const request& q) { return q.id < before; });
  });
}

void move_queue::stop() noexcept {
  {
    const std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_one();
  const std::lock_guard lock(join_mutex_);
  if (worker_.joinable()) worker_.join();
}

}  // namespace uvm::detail
