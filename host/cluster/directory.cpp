#include "host/cluster/directory.hpp"

#include <bit>

namespace uvm::detail {

namespace {

constexpr std::uint64_t bit(int rank) noexcept {
  return std::uint64_t{1} << rank;
}

directory::out message(int to, message_kind kind, std::uint64_t page,
                       page_access access = page_access::none, bool with_data = false) {
  return {to, message_header{.kind = kind, .access = access, .with_data = with_data, .page = page}};
}

}  // namespace

void directory::request(std::uint64_t page, int from, page_access want, std::uint64_t now_ns,
                        std::vector<out>& outs) {
  entry& e = entries_[page];
  const pending p{from, want, now_ns};
  if (e.failed != failure_reason::none) {
    e.current = p;
    fail(page, e, from, outs);
    return;
  }
  if (e.busy) {
    e.queue.push_back(p);
    return;
  }
  start(page, e, p, outs);
}

void directory::start(std::uint64_t page, entry& e, const pending& p, std::vector<out>& outs) {
  e.busy = true;
  ++busy_;
  e.current = p;
  e.waiting_on = 0;
  e.recalling = false;
  const bool write = p.want == page_access::write;
  if (write) {
    // Write-invalidate: every other copy goes before the requester may write.
    for (std::uint64_t others = e.sharers & ~bit(p.from); others != 0; others &= others - 1) {
      const int r = std::countr_zero(others);
      outs.push_back(message(r, message_kind::invalidate, page));
      e.waiting_on |= bit(r);
    }
  }
  if (e.owner >= 0 && e.owner != p.from) {
    // The owner keeps a read-only copy if the request is a read.
    outs.push_back(message(e.owner, message_kind::recall, page,
                           write ? page_access::none : page_access::read));
    e.waiting_on |= bit(e.owner);
    e.recalling = true;
  }
  if (e.waiting_on == 0) finish(page, e, outs);
}

void directory::finish(std::uint64_t page, entry& e, std::vector<out>& outs) {
  const int from = e.current.from;
  if (e.owner == from) {
    // The requester holds it writable already (a request that crossed its own grant).
    outs.push_back(message(from, message_kind::grant, page, page_access::write, false));
  } else if (e.current.want == page_access::read) {
    outs.push_back(
        message(from, message_kind::grant, page, page_access::read, (e.sharers & bit(from)) == 0));
    e.sharers |= bit(from);
  } else {
    outs.push_back(
        message(from, message_kind::grant, page, page_access::write, (e.sharers & bit(from)) == 0));
    e.owner = from;
    e.sharers = 0;
  }
  e.busy = false;
  --busy_;
  next(page, e, outs);
}

void directory::next(std::uint64_t page, entry& e, std::vector<out>& outs) {
  while (!e.busy && !e.queue.empty()) {
    const pending p = e.queue.front();
    e.queue.pop_front();
    if (e.failed != failure_reason::none) {
      e.current = p;
      fail(page, e, p.from, outs);
    } else {
      start(page, e, p, outs);
    }
  }
}

void directory::acknowledged(std::uint64_t page, int from, message_kind ack,
                             std::vector<out>& outs) {
  const auto it = entries_.find(page);
  if (it == entries_.end()) return;
  entry& e = it->second;
  if (!e.busy || (e.waiting_on & bit(from)) == 0) return;
  e.waiting_on &= ~bit(from);
  if (ack == message_kind::recall_ack && from == e.owner) {
    if (e.current.want == page_access::read) e.sharers |= bit(from);
    e.owner = -1;
    e.recalling = false;
  } else {
    e.sharers &= ~bit(from);
  }
  if (e.waiting_on == 0) finish(page, e, outs);
}

void directory::expire(std::uint64_t now_ns, std::uint64_t timeout_ns, std::vector<out>& outs) {
  if (busy_ == 0) return;
  for (auto& [page, e] : entries_) {
    if (!e.busy || now_ns - e.current.at_ns < timeout_ns) continue;
    // The owner's copy is the only valid one while it is recalled.
    const int missing = e.recalling ? e.owner : std::countr_zero(e.waiting_on);
    e.failed = e.recalling ? failure_reason::lost : failure_reason::unanswered;
    e.failed_rank = missing;
    e.busy = false;
    --busy_;
    fail(page, e, e.current.from, outs);
    next(page, e, outs);
  }
}

void directory::fail(std::uint64_t page, const entry& e, int to, std::vector<out>& outs) {
  out o = message(to, message_kind::failure, page, e.current.want);
  o.header.reason = e.failed;
  o.header.rank = e.failed_rank;
  outs.push_back(o);
}

directory::holders directory::holders_of(std::uint64_t page) const {
  const auto it = entries_.find(page);
  if (it == entries_.end()) return {};
  return {it->second.owner, it->second.sharers, it->second.busy, it->second.failed};
}

}  // namespace uvm::detail
