#include "host/migration/kernel_epochs.hpp"

#include "host/common/clock.hpp"

#include <uvm/error.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <thread>

namespace uvm::detail {

namespace {

bool overlaps(const page_use& a, const page_use& b) noexcept {
  return a.range == b.range && a.first < b.first + b.count && b.first < a.first + a.count;
}

}  // namespace

kernel_epochs::ticket kernel_epochs::begin(const stream& s, std::span<const page_use> uses,
                                           bool declared) {
  std::unique_lock lock(mutex_);
  // The ticket is the arrival's: this launch waits only for the moves queued before it (a
  // bounded set). Its place starts there; operations queued on its stream before its end is
  // recorded move it on (issue()).
  const device_id device = backend_.device_of(s);
  const ticket t = next_++;
  epochs_.push_back({t, t, s, device, nullptr, declared, {uses.begin(), uses.end()}, false});
  if (!served_.wait_for(lock, timeout_, [&] { return !held_back(s.get(), uses, declared, t); })) {
    std::erase_if(epochs_, [t](const epoch& e) { return e.id == t; });
    throw uvm::timeout(fmt::format(
        "uvm: a launch waited {} ms (the fault timeout) for CPU faults or queued moves that wait "
        "for the kernels in flight; they were not served",
        std::chrono::duration_cast<std::chrono::milliseconds>(timeout_).count()));
  }
  const std::uint64_t now = timeline_ != nullptr ? now_ns() : 0;
  for (epoch& e : epochs_) {
    if (e.id == t) {
      e.admitted = true;
      e.begun_ns = now;
    }
  }
  had_kernels_ = true;
  if (timeline_ != nullptr) timeline_->wake_writer();
  return t;
}

void kernel_epochs::end(ticket t, event e) {
  const std::lock_guard lock(mutex_);
  const auto it =
      std::find_if(epochs_.begin(), epochs_.end(), [t](const epoch& x) { return x.id == t; });
  if (it == epochs_.end()) return;
  if (e == nullptr) {
    // Nothing to wait for: a model charges what its workers did (none, if it never ran), so the
    // stream's later work is not held behind it.
    if (model_ != nullptr) model_->kernel_done(t);
    epochs_.erase(it);
  } else {
    it->done = std::move(e);
  }
}

kernel_epochs::state kernel_epochs::poll() noexcept {
  const std::lock_guard lock(mutex_);
  const std::uint64_t now = timeline_ != nullptr ? now_ns() : 0;
  std::erase_if(epochs_, [&](const epoch& e) {
    if (!(e.done && backend_.query(e.done))) return false;
    if (model_ != nullptr) model_->kernel_done(e.id);
    if (timeline_ != nullptr) {
      timeline_->push({.start_ns = e.begun_ns,
                       .end_ns = e.ended_ns != 0 ? e.ended_ns : now,
                       .key = reinterpret_cast<std::uint64_t>(e.on.get()),
                       .kind = timeline_kind::kernel_epoch});
    }
    return true;
  });
  const bool busy =
      std::any_of(epochs_.begin(), epochs_.end(), [](const epoch& e) { return e.admitted; });
  const bool ended = had_kernels_ && !busy;
  if (!busy) had_kernels_ = false;
  return {busy, ended};
}

bool kernel_epochs::running_besides(const stream_base* own,
                                    std::optional<device_id> device) noexcept {
  const std::lock_guard lock(mutex_);
  return std::any_of(epochs_.begin(), epochs_.end(), [&](const epoch& e) {
    return (own == nullptr || e.on.get() != own) && (!device || e.device == *device) && running(e);
  });
}

bool kernel_epochs::running_outside(std::span<const stream_base* const> held) noexcept {
  const std::lock_guard lock(mutex_);
  return std::any_of(epochs_.begin(), epochs_.end(), [&](const epoch& e) {
    return std::find(held.begin(), held.end(), e.on.get()) == held.end() && running(e);
  });
}

bool kernel_epochs::enqueuing(const stream_base* s, ticket before) noexcept {
  const std::lock_guard lock(mutex_);
  return std::any_of(epochs_.begin(), epochs_.end(), [&](const epoch& e) {
    return e.on.get() == s && e.id < before && (!e.admitted || !e.done);
  });
}

kernel_epochs::ticket kernel_epochs::oldest_running(std::optional<device_id> device) noexcept {
  const std::lock_guard lock(mutex_);
  ticket oldest = no_ticket;
  for (const epoch& e : epochs_) {
    if (e.id < oldest && (!device || e.device == *device) && running(e)) oldest = e.id;
  }
  return oldest;
}

kernel_epochs::ticket kernel_epochs::free_fence(const stream_base* own,
                                                std::optional<device_id> device,
                                                const page_use* pages) noexcept {
  const std::lock_guard lock(mutex_);
  ticket newest = no_ticket;
  for (const epoch& e : epochs_) {
    if ((own != nullptr && e.on.get() == own) || (device && e.device != *device) || !running(e) ||
        (pages != nullptr && !may_use(e, *pages))) {
      continue;
    }
    // A launch arriving after an operation issued on its stream was enqueued after its gate
    // (both go into the stream under the stream issue lock, the operation's ticket drawn there).
    const bool behind_gate = std::any_of(gates_.begin(), gates_.end(), [&](const closed_gate& g) {
      return g.on == e.on.get() && g.id < e.id;
    });
    if (!behind_gate && (newest == no_ticket || e.id > newest)) newest = e.id;
  }
  return newest == no_ticket ? no_ticket : newest + 1;
}

void kernel_epochs::retire_bindings(std::vector<binding>& b) noexcept {
  // The newest binding in effect supersedes every older one.
  for (std::size_t i = b.size(); i-- > 1;) {
    if (b[i].effective && !backend_.query(b[i].effective)) continue;
    b[i].effective = nullptr;
    b.erase(b.begin(), b.begin() + static_cast<std::ptrdiff_t>(i));
    return;
  }
}

bool kernel_epochs::attached_for(std::uint32_t range, const stream_base* s) noexcept {
  const auto it = bindings_.find(range);
  if (it == bindings_.end()) return true;
  retire_bindings(it->second);
  for (const binding& b : it->second) {
    switch (b.kind) {
      case attach_kind::global: return true;
      case attach_kind::host: break;
      case attach_kind::single:
        if (b.to == s && !b.alive.expired()) return true;
        break;
    }
  }
  return false;
}

bool kernel_epochs::may_use(const stream_base* s, std::span<const page_use> uses, bool declared,
                            const page_use& u) noexcept {
  if (!attached_for(u.range, s)) return false;
  if (!declared) return true;
  return std::any_of(uses.begin(), uses.end(), [&](const page_use& d) { return overlaps(d, u); });
}

bool kernel_epochs::may_use(const epoch& e, const page_use& u) noexcept {
  return may_use(e.on.get(), e.uses, e.declared, u);
}

bool kernel_epochs::held_back(const stream_base* s, std::span<const page_use> uses, bool declared,
                              ticket arrival) noexcept {
  return std::any_of(waiters_.begin(), waiters_.end(), [&](const waiter& w) {
    const bool counts = w.on == nullptr || (w.on != s && (w.id < arrival || w.running));
    return counts && may_use(s, uses, declared, w.pages);
  });
}

bool kernel_epochs::counts(const epoch& e, ticket before) noexcept {
  // A launch still held back does not count: it is not in its stream yet, and the operations
  // queued after its arrival do not hold it back either.
  return e.admitted && e.order < before;
}

bool kernel_epochs::waited_by(const epoch& e, ticket before, const stream_base* s) noexcept {
  if (!counts(e, before) || e.on.get() == s) return false;
  if (!e.behind_registration || s == nullptr) return true;
  // The registration waits for the operation if it is ahead of its stream's registration gate,
  // or ahead of a kernel that may be running (its stream not held: the registration waits for
  // that kernel, and the kernel for the operation's gate).
  const bool ahead_of_gate =
      std::any_of(registration_gates_.begin(), registration_gates_.end(),
                  [&](const closed_gate& g) { return g.on == s && before < g.id; });
  if (ahead_of_gate) return false;
  return std::none_of(epochs_.begin(), epochs_.end(), [&](const epoch& k) {
    return k.on.get() == s && k.order > before && running(k);
  });
}

bool kernel_epochs::used(const page_use& u, ticket before, const stream_base* except) noexcept {
  return std::any_of(epochs_.begin(), epochs_.end(), [&](const epoch& e) {
    return waited_by(e, before, except) && !(e.done && backend_.query(e.done)) && may_use(e, u);
  });
}

bool kernel_epochs::in_use(const page_use& u, ticket before, const stream_base* except) noexcept {
  const std::lock_guard lock(mutex_);
  return used(u, before, except);
}

bool kernel_epochs::in_use_on(const page_use& u, std::uint32_t devices) noexcept {
  if (devices == 0) return false;
  const std::lock_guard lock(mutex_);
  return std::any_of(epochs_.begin(), epochs_.end(), [&](const epoch& e) {
    return e.device < 32 && (devices & (1u << e.device)) != 0 && running(e) && may_use(e, u);
  });
}

template <class Match>
bool kernel_epochs::pending(Match&& match, event& running) noexcept {
  const std::lock_guard lock(mutex_);
  bool enqueuing = false;
  running = nullptr;
  for (const epoch& e : epochs_) {
    if (!match(e)) continue;
    if (e.done == nullptr) {
      enqueuing = true;
    } else if (e.ended_ns == 0 && backend_.query(e.done)) {
      if (timeline_ != nullptr) e.ended_ns = now_ns();
    } else if (running == nullptr && e.ended_ns == 0) {
      running = e.done;
    }
  }
  return enqueuing;
}

template <class Match>
bool kernel_epochs::wait_until_none(Match&& match, std::chrono::nanoseconds timeout) noexcept {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    event running;
    const bool enqueuing = pending(match, running);
    if (!enqueuing && running == nullptr) return true;
    const auto now = std::chrono::steady_clock::now();
    if (now >= deadline) return false;
    if (running != nullptr) {
      (void)backend_.wait(running, deadline - now);
    } else {
      // A launch is being enqueued (it has no event yet): look again shortly.
      std::this_thread::sleep_for(std::chrono::microseconds(100));
    }
  }
}

bool kernel_epochs::wait(std::chrono::nanoseconds timeout) noexcept {
  // The kernels in flight now: those launched later are not waited for.
  ticket now;
  {
    const std::lock_guard lock(mutex_);
    now = next_;
  }
  return wait_until_none([now](const epoch& e) { return e.admitted && e.id < now; }, timeout);
}

bool kernel_epochs::wait_users(const page_use& u, std::chrono::nanoseconds timeout, ticket before,
                               const stream_base* except) noexcept {
  // may_use runs under the lock (pending() holds it while matching).
  return wait_until_none(
      [&](const epoch& e) { return waited_by(e, before, except) && may_use(e, u); }, timeout);
}

void kernel_epochs::attach(std::uint32_t range, attach_kind k, const stream& s, event effective) {
  {
    const std::lock_guard lock(mutex_);
    std::vector<binding>& b = bindings_[range];
    if (b.empty()) b.push_back({attach_kind::global, nullptr, {}, nullptr});
    const stream_base* to = k == attach_kind::single ? s.get() : nullptr;
    b.push_back(
        {k, to,
         k == attach_kind::single ? std::weak_ptr<stream_base>(s) : std::weak_ptr<stream_base>(),
         std::move(effective)});
    retire_bindings(b);
  }
  served_.notify_all();  // launches held back for the range may no longer be able to use it
}

bool kernel_epochs::wait_attachments(std::chrono::nanoseconds timeout) noexcept {
  std::vector<event> pending;
  try {
    const std::lock_guard lock(mutex_);
    for (const auto& [range, bindings] : bindings_) {
      for (const binding& b : bindings) {
        if (b.effective) pending.push_back(b.effective);
      }
    }
  } catch (...) {  // out of memory: wait for none, as before
    return true;
  }
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (const event& e : pending) {
    const auto left = deadline - std::chrono::steady_clock::now();
    if (!backend_.wait(e, std::max<std::chrono::nanoseconds>(left, std::chrono::nanoseconds(0)))) {
      return false;
    }
  }
  return true;
}

attach_kind kernel_epochs::attachment(std::uint32_t range) noexcept {
  const std::lock_guard lock(mutex_);
  const auto it = bindings_.find(range);
  return it == bindings_.end() ? attach_kind::global : it->second.back().kind;
}

void kernel_epochs::restricted(std::vector<restricted_range>& out) {
  out.clear();
  const std::lock_guard lock(mutex_);
  for (auto& [range, b] : bindings_) {
    retire_bindings(b);
    if (b.size() == 1 && b.front().kind == attach_kind::global) {
      out.push_back({range, true});  // global again: every kernel may use it
      continue;
    }
    const page_use whole{range, 0, std::numeric_limits<std::size_t>::max() / 2};
    const bool used = std::any_of(epochs_.begin(), epochs_.end(),
                                  [&](const epoch& e) { return running(e) && may_use(e, whole); });
    out.push_back({range, used});
  }
}

void kernel_epochs::forget(std::uint32_t range) noexcept {
  const std::lock_guard lock(mutex_);
  bindings_.erase(range);
}

void kernel_epochs::cpu_waiters(std::span<const page_use> waiting) noexcept {
  bool fewer = false;
  {
    const std::lock_guard lock(mutex_);
    const std::size_t before = waiters_.size();
    std::erase_if(waiters_, [](const waiter& w) { return w.on == nullptr; });
    fewer = waiters_.size() != before;
    try {
      for (const page_use& u : waiting) waiters_.push_back({next_, u, nullptr});
    } catch (...) {
      // Without memory the fairness is lost for this batch, not correctness.
    }
  }
  if (fewer) served_.notify_all();
}

kernel_epochs::ticket kernel_epochs::issue(std::span<const page_use> uses, const stream& s,
                                           bool gated) {
  const std::lock_guard lock(mutex_);
  const ticket t = next_;
  const std::size_t before = waiters_.size();
  try {
    for (const page_use& u : uses) waiters_.push_back({t, u, s.get()});
    if (gated) gates_.push_back({t, s.get()});
  } catch (...) {
    waiters_.resize(before);
    throw;
  }
  ++next_;
  // The operation's gate goes into `s` ahead of whatever of these epochs is not enqueued yet,
  // and ahead of their ends: they are placed after it.
  bool moved = false;
  for (epoch& e : epochs_) {
    if (e.on.get() == s.get() && e.done == nullptr) {
      if (!moved) ++next_;
      moved = true;
      e.order = t + 1;
    }
  }
  return t;
}

bool kernel_epochs::claim(ticket t, std::span<const page_use> uses, const stream_base* s) noexcept {
  const std::lock_guard lock(mutex_);
  if (std::any_of(uses.begin(), uses.end(), [&](const page_use& u) { return used(u, t, s); })) {
    return false;
  }
  for (waiter& w : waiters_) {
    if (w.on != nullptr && w.id == t) w.running = true;
  }
  return true;
}

void kernel_epochs::registration_gate(const stream_base* s) noexcept {
  const std::lock_guard lock(mutex_);
  try {
    registration_gates_.push_back({next_, s});
  } catch (...) {
    return;  // without memory, operations wait for every kernel (bounded by the timeout)
  }
  for (epoch& e : epochs_) {
    if (e.on.get() == s && e.done == nullptr) e.behind_registration = true;
  }
}

void kernel_epochs::registration_gates_open() noexcept {
  const std::lock_guard lock(mutex_);
  registration_gates_.clear();
  for (epoch& e : epochs_) e.behind_registration = false;
}

kernel_epochs::ticket kernel_epochs::next() noexcept {
  const std::lock_guard lock(mutex_);
  return next_;
}

void kernel_epochs::finish_operation(ticket t) noexcept {
  {
    const std::lock_guard lock(mutex_);
    std::erase_if(waiters_, [t](const waiter& w) { return w.on != nullptr && w.id == t; });
    std::erase_if(gates_, [t](const closed_gate& g) { return g.id == t; });
  }
  served_.notify_all();
}

}  // namespace uvm::detail
