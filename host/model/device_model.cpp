#include "host/model/device_model.hpp"

#include "host/telemetry/counters.hpp"

#include <algorithm>
#include <bit>

namespace uvm::detail {

namespace {

void record(latency_histogram& h, std::uint64_t ns) noexcept {
  ++h.buckets[histogram_bucket(ns)];
  h.total_ns += ns;
}

std::uint32_t shift_of(unsigned line_bytes) {
  // Lines are counted in powers of two: a profile's line size is rounded down to one.
  return static_cast<std::uint32_t>(std::bit_width(std::max(1u, line_bytes)) - 1);
}

thread_local device_model::target charged{};

}  // namespace

device_model::charge_scope::charge_scope(target t) noexcept : saved_(charged) {
  charged = t;
}

device_model::charge_scope::~charge_scope() {
  charged = saved_;
}

device_model::target device_model::current() noexcept {
  return charged;
}

device_model::device_model(std::vector<device_profile> profiles, std::uint64_t page_size,
                           unsigned devices)
    : page_size_(page_size), line_shift_(31), pending_(devices), faulted_(devices) {
  for (device_profile& p : profiles) {
    line_shift_ = std::min(line_shift_, shift_of(p.line_bytes));
    const unsigned engines = p.copy_engines;
    ledgers_.push_back({std::move(p), model_clock(devices, engines), {}, 0});
  }
}

void device_model::set_timeline(timeline* t) {
  timeline_ = t;
  if (t != nullptr && !ledgers_.empty()) t->set_modelled_profile(ledgers_.front().profile.name);
}

void device_model::show_copy(unsigned d, copy_direction dir, std::uint64_t bytes, std::uint64_t end,
                             std::uint64_t ns) noexcept {
  if (timeline_ == nullptr) return;
  const std::uint64_t origin = timeline_->origin_ns();
  timeline_->push(
      {.start_ns = origin + end - ns,
       .end_ns = origin + end,
       .value = bytes,
       .kind = timeline_kind::modelled_copy,
       .flags = dir == copy_direction::device_to_host ? std::uint8_t{0} : to_device_flag,
       .device = static_cast<std::uint8_t>(d)});
}

device_model::op* device_model::find(op_id id) {
  const auto w = where_.find(id);
  if (w == where_.end()) return nullptr;
  for (op& o : queues_[w->second]) {
    if (o.id == id) return &o;
  }
  return nullptr;
}

void device_model::place(stream_key s, op o) {
  o.issued.reserve(ledgers_.size());
  for (ledger& l : ledgers_) {
    l.clock.add_stream(s);
    o.issued.push_back(l.clock.host());
  }
  const op_id id = o.id;
  queues_[s].push_back(std::move(o));
  where_[id] = s;
}

std::shared_ptr<access_tally> device_model::launch(op_id ticket, stream_key s, unsigned d) {
  const std::lock_guard lock(mutex_);
  if (op* o = find(ticket)) {
    ++o->account.launches;
    return o->tally;
  }
  op o{.id = ticket, .kernel = true, .device = d};
  o.account.launches = 1;
  o.tally = std::make_shared<access_tally>();
  std::shared_ptr<access_tally> tally = o.tally;
  place(s, std::move(o));
  return tally;
}

void access_tally::add(access_meter& m) noexcept {
  const std::lock_guard lock(mutex_);
  bytes_ += m.bytes;
  remote_bytes_ += m.remote_bytes;
  peer_bytes_ += m.peer_bytes;
  try {
    remote_.insert(m.remote_lines.begin(), m.remote_lines.end());
    peer_.insert(m.peer_lines.begin(), m.peer_lines.end());
  } catch (const std::bad_alloc&) {
    // The count comes short; the bytes still count (read() takes the larger).
  }
}

access_tally::totals access_tally::read(std::uint32_t line_shift) const noexcept {
  const std::lock_guard lock(mutex_);
  const auto at_least = [line_shift](std::uint64_t lines, std::uint64_t bytes) {
    return std::max<std::uint64_t>(lines,
                                   (bytes + (std::uint64_t{1} << line_shift) - 1) >> line_shift);
  };
  return {bytes_, at_least(remote_.size(), remote_bytes_), at_least(peer_.size(), peer_bytes_)};
}

void device_model::kernel_done(op_id ticket) noexcept {
  const std::lock_guard lock(mutex_);
  op* o = find(ticket);
  if (o == nullptr || o->done) return;
  try {
    // The fault work its device did since the device's last kernel was charged is this one's.
    o->account.merge(std::move(pending_[o->device]));
  } catch (const std::bad_alloc&) {
    // Not charged: the figures are short of those faults' copies, nothing else.
  }
  pending_[o->device] = {};
  faulted_[o->device].clear();
  o->done = true;
  settle(where_[ticket]);
}

device_model::op_id device_model::issue_moves(stream_key s, unsigned d) {
  const std::lock_guard lock(mutex_);
  const op_id id = next_moves_++;
  place(s, {.id = id, .kernel = false, .device = d});
  return id;
}

void device_model::moves_done(op_id m) noexcept {
  const std::lock_guard lock(mutex_);
  op* o = find(m);
  if (o == nullptr || o->done) return;
  o->done = true;
  settle(where_[m]);
}

void device_model::moved(const target& t, std::span<const modelled_move> moves) {
  if (moves.empty()) return;
  const std::lock_guard lock(mutex_);
  switch (t.k) {
    case target::kind::device_faults:
      // Charged to the next kernel of the device whose faults made them.
      for (const modelled_move& m : moves) {
        if (m.device < pending_.size()) pending_[m.device].fault_moves.push_back(m);
      }
      return;
    case target::kind::moves:
      if (op* o = find(t.op)) {
        o->moves.insert(o->moves.end(), moves.begin(), moves.end());
        return;
      }
      break;  // not announced: charged to the host
    case target::kind::host: break;
  }
  std::vector<modelled_move> copies(moves.begin(), moves.end());
  for_each_copy(copies, page_size_, [&](std::uint32_t on, copy_direction dir, std::uint64_t bytes) {
    for (std::size_t i = 0; i < ledgers_.size(); ++i) {
      ledger& l = ledgers_[i];
      const std::uint64_t ns = l.profile.link(dir).copy_ns(bytes);
      l.clock.host_copy(on, dir, ns);
      l.sums.cpu_faults += ns;
      if (i == 0) show_copy(on, dir, bytes, l.clock.host(), ns);
    }
  });
}

void device_model::device_fault(unsigned d, std::uint32_t range, std::uint64_t page) noexcept {
  if (d >= pending_.size()) return;
  const std::lock_guard lock(mutex_);
  try {
    if (faulted_[d].insert(std::uint64_t{range} << 40 | page).second) ++pending_[d].faults;
  } catch (const std::bad_alloc&) {
    ++pending_[d].faults;
  }
}

void device_model::cpu_fault() {
  const std::lock_guard lock(mutex_);
  for (ledger& l : ledgers_) {
    const std::uint64_t ns = ns_of_us(l.profile.cpu_fault_us);
    l.clock.host_work(ns);
    l.sums.cpu_faults += ns;
  }
}

void device_model::wait(stream_key s) {
  const std::lock_guard lock(mutex_);
  for (ledger& l : ledgers_) l.clock.wait(s);
}

void device_model::wait_all() {
  const std::lock_guard lock(mutex_);
  for (ledger& l : ledgers_) l.clock.wait_all();
}

void device_model::settle(stream_key s) noexcept {
  std::deque<op>& q = queues_[s];
  while (!q.empty() && q.front().done) {
    op& o = q.front();
    if (o.kernel) {
      charge_kernel(s, o);
    } else {
      charge_moves(s, o);
    }
    where_.erase(o.id);
    q.pop_front();
  }
}

void device_model::charge_kernel(stream_key s, op& o) noexcept {
  kernel_account& a = o.account;
  if (o.tally != nullptr) {
    const access_tally::totals t = o.tally->read(line_shift_);
    a.access_bytes += t.bytes;
    a.remote_lines += t.remote_lines;
    a.peer_lines += t.peer_lines;
  }
  const std::uint64_t remote = a.remote_lines;
  const std::uint64_t peer = a.peer_lines;
  for (std::size_t i = 0; i < ledgers_.size(); ++i) {
    ledger& l = ledgers_[i];
    // Lines were counted at the smallest line size of the profiles: a profile of wider lines
    // reaches about as many of its own as fit.
    const std::uint32_t wider = shift_of(l.profile.line_bytes) - line_shift_;
    const auto lines = [wider](std::uint64_t n) {
      return (n + (std::uint64_t{1} << wider) - 1) >> wider;
    };
    const kernel_cost c = cost_of(l.profile, page_size_, a, lines(remote), lines(peer));
    const std::uint64_t end = l.clock.run(s, o.issued[i], c.total());
    if (i == 0 && timeline_ != nullptr) {
      const std::uint64_t origin = timeline_->origin_ns();
      timeline_->push({.start_ns = origin + end - c.total(),
                       .end_ns = origin + end,
                       .value = c.fault_service + c.fault_copies,
                       .key = s,
                       .count = static_cast<std::uint32_t>(a.faults),
                       .kind = timeline_kind::modelled_kernel});
    }
    totals& t = l.sums;
    ++t.kernels;
    record(t.per_kernel, c.total());
    t.launch += c.launch;
    t.compute += c.compute;
    t.fault_service += c.fault_service;
    t.fault_copies += c.fault_copies;
    t.remote += c.remote;
    t.device_faults += a.faults;
    t.batches += c.batches;
  }
}

void device_model::charge_moves(stream_key s, op& o) noexcept {
  if (o.moves.empty()) return;
  for (std::size_t i = 0; i < ledgers_.size(); ++i) {
    ledger& l = ledgers_[i];
    for_each_copy(o.moves, page_size_,
                  [&](std::uint32_t on, copy_direction dir, std::uint64_t bytes) {
                    const std::uint64_t ns = l.profile.link(dir).copy_ns(bytes);
                    const std::uint64_t end = l.clock.copy(s, on, dir, o.issued[i], ns);
                    l.sums.stream_copies += ns;
                    if (i == 0) show_copy(on, dir, bytes, end, ns);
                  });
    const std::uint64_t publish = ns_of_us(l.profile.publish_us);
    l.clock.run(s, o.issued[i], publish);
    l.sums.stream_copies += publish;
  }
}

std::vector<modelled_time> device_model::snapshot() const {
  const auto ns = [](std::uint64_t v) { return std::chrono::nanoseconds(v); };
  std::vector<modelled_time> out;
  const std::lock_guard lock(mutex_);
  for (const ledger& l : ledgers_) {
    const totals& t = l.sums;
    const std::uint64_t end = l.clock.makespan();
    modelled_time m;
    m.profile = l.profile.name;
    m.total = ns(end - std::min(l.origin, end));
    m.kernels = t.kernels;
    m.per_kernel = t.per_kernel;
    m.launch = ns(t.launch);
    m.compute = ns(t.compute);
    m.fault_service = ns(t.fault_service);
    m.fault_copies = ns(t.fault_copies);
    m.remote = ns(t.remote);
    m.stream_copies = ns(t.stream_copies);
    m.cpu_faults = ns(t.cpu_faults);
    m.device_faults = t.device_faults;
    m.fault_batches = t.batches;
    out.push_back(std::move(m));
  }
  return out;
}

void device_model::reset() noexcept {
  const std::lock_guard lock(mutex_);
  for (ledger& l : ledgers_) {
    l.sums = {};
    l.origin = l.clock.makespan();
  }
}

}  // namespace uvm::detail
