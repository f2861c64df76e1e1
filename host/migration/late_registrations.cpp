#include "host/migration/late_registrations.hpp"

#include "host/common/clock.hpp"
#include "host/telemetry/log.hpp"

#include <algorithm>
#include <thread>

namespace uvm::detail {

void late_registrations::add() noexcept {
  const std::lock_guard lock(mutex_);
  if (pending_.load(std::memory_order_relaxed)) return;  // held since an earlier barrier
  since_ns_ = now_ns();
  barrier_ = epochs_.next();
  pending_.store(true, std::memory_order_release);
}

void late_registrations::done() noexcept {
  const std::lock_guard lock(mutex_);
  pending_.store(false, std::memory_order_release);
  release();
}

std::unique_lock<std::mutex> late_registrations::lock_holding(std::mutex& issue, const stream& s,
                                                              kernel_epochs::ticket t) {
  constexpr auto patience = std::chrono::milliseconds(100);
  const auto until = std::chrono::steady_clock::now() + patience;
  std::unique_lock lock(issue);
  while (!hold(s, t, std::chrono::steady_clock::now() >= until)) {
    lock.unlock();
    std::this_thread::yield();
    lock.lock();
  }
  return lock;
}

bool late_registrations::hold(const stream& s, kernel_epochs::ticket t, bool patience_spent) {
  if (!pending()) return true;
  const std::lock_guard lock(mutex_);
  if (!pending_.load(std::memory_order_relaxed) || t < barrier_) return true;
  if (std::any_of(held_.begin(), held_.end(), [&](const held_stream& h) { return h.on == s; })) {
    return true;  // everything enqueued on `s` from now on is behind its gate already
  }
  if (!patience_spent && epochs_.enqueuing(s.get(), barrier_)) return false;
  held_.reserve(held_.size() + 1);
  event ahead = backend_.record(s);
  gate g = backend_.enqueue_gate(s);
  if (g != nullptr) {
    held_.push_back({s, std::move(ahead), std::move(g)});
    epochs_.registration_gate(s.get());
  }
  return true;
}

late_registrations::turn late_registrations::poll() noexcept {
  const std::lock_guard lock(mutex_);
  if (!pending_.load(std::memory_order_relaxed)) return turn::none;
  // Every kernel enqueued before a gate has ended, and no kernel runs on a stream without one
  // (those enqueued after a gate wait behind it).
  const bool ahead_done = std::all_of(
      held_.begin(), held_.end(), [&](const held_stream& h) { return backend_.query(h.ahead); });
  if (ahead_done) {
    std::vector<const stream_base*> streams;
    try {
      streams.reserve(held_.size());
      for (const held_stream& h : held_) streams.push_back(h.on.get());
      if (!epochs_.running_outside(streams)) return turn::now;
    } catch (...) {
      // Out of memory: looked at again on the next poll.
    }
  }
  if (now_ns() - since_ns_ < static_cast<std::uint64_t>(timeout_.count())) return turn::waiting;
  log().error(
      "uvm: kernels in flight when a range was allocated still ran after the fault timeout ({} "
      "ms): launches go on, and the range's host memory is registered once no kernel is in "
      "flight (until then its pages are never mapped remote)",
      std::chrono::duration_cast<std::chrono::milliseconds>(timeout_).count());
  pending_.store(false, std::memory_order_release);
  release();
  return turn::expired;
}

void late_registrations::release() noexcept {
  if (held_.empty()) return;
  epochs_.registration_gates_open();
  for (const held_stream& h : held_) backend_.open_gate(h.g);
  held_.clear();
}

}  // namespace uvm::detail
