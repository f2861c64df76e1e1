#include "host/cluster/cluster_node.hpp"

#include "host/common/check.hpp"
#include "host/telemetry/log.hpp"

#include <uvm/error.hpp>

#include <algorithm>
#include <array>
#include <cstring>

namespace uvm::detail {

namespace {

constexpr std::uint8_t request_bit(page_access a) noexcept {
  return static_cast<std::uint8_t>(1u << static_cast<unsigned>(a));
}

// Requests that would satisfy `want` once granted.
constexpr std::uint8_t satisfying(page_access want) noexcept {
  return want == page_access::read
             ? request_bit(page_access::read) | request_bit(page_access::write)
             : request_bit(page_access::write);
}

long long ms(std::chrono::nanoseconds t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t).count();
}

}  // namespace

cluster_node::cluster_node(MPI_Comm comm, const settings& s, local_copies& copies)
    : settings_(s), copies_(copies), link_(comm) {
  // Checked together, so that every process throws, not only the ones whose input differs.
  const std::array<std::uint64_t, 4> mine{s.pages, s.page_bytes,
                                          static_cast<std::uint64_t>(s.homes),
                                          static_cast<std::uint64_t>(ms(s.timeout) > 0 ? 1 : 0)};
  std::array<std::uint64_t, 4> lo{};
  std::array<std::uint64_t, 4> hi{};
  MPI_Allreduce(mine.data(), lo.data(), 4, MPI_UINT64_T, MPI_MIN, link_.comm());
  MPI_Allreduce(mine.data(), hi.data(), 4, MPI_UINT64_T, MPI_MAX, link_.comm());
  UVM_EXPECTS(lo == hi,
              "cluster: the processes disagree on the range: pages {}..{}, page bytes {}..{}, "
              "home rules {}..{} (this process: {} pages of {} bytes, {} homes)",
              lo[0], hi[0], lo[1], hi[1], lo[2], hi[2], s.pages, s.page_bytes, to_string(s.homes));
  UVM_EXPECTS(lo[0] != 0 && lo[1] != 0, "cluster: a range of {} pages of {} bytes is empty",
              s.pages, s.page_bytes);
  UVM_EXPECTS(lo[3] != 0, "cluster: the timeout must be at least a millisecond");
  UVM_EXPECTS(link_.size() <= directory::max_ranks,
              "cluster: {} processes; at most {} can share a range", link_.size(),
              directory::max_ranks);
  pages_.resize(s.pages);
  link_.start([this](int from, const message_header& h,
                     std::span<const std::byte> data) { on_message(from, h, data); },
              [this] {
                // A home gives up on a silent process within three quarters of the timeout,
                // so that its requester hears why before its own wait ends.
                directory_.expire(
                    now_ns(), static_cast<std::uint64_t>(settings_.timeout.count()) / 4 * 3, outs_);
                send_all(outs_);
              });
}

cluster_node::~cluster_node() {
  link_.stop();
}

std::uint64_t cluster_node::now_ns() const noexcept {
  return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                        std::chrono::steady_clock::now().time_since_epoch())
                                        .count());
}

std::string cluster_node::describe(std::size_t page) const {
  const auto* at = static_cast<const std::byte*>(settings_.base);
  return fmt::format(
      "page {} ({}) of home rank {}", page,
      static_cast<const void*>(at == nullptr ? nullptr : at + page * settings_.page_bytes),
      home_of(page));
}

void cluster_node::acquire(std::size_t page, page_access want) {
  UVM_EXPECTS(page < settings_.pages, "cluster: page {} is outside the range's {} pages", page,
              settings_.pages);
  UVM_EXPECTS(want != page_access::none, "cluster: acquiring no access to page {}", page);
  const auto deadline = std::chrono::steady_clock::now() + settings_.timeout;
  std::unique_lock lock(mutex_);
  UVM_EXPECTS(!closed_, "cluster: page {} accessed after close()", page);
  local_page& p = pages_[page];
  while (p.held < want) {
    if (p.failed == failure_reason::lost) {
      throw uvm::error(fmt::format(
          "cluster: {} is lost: its only valid copy was on rank {}, which did not give it back "
          "within {} ms",
          describe(page), p.failed_rank, ms(settings_.timeout)));
    }
    if (p.failed == failure_reason::unanswered) {
      throw uvm::error(fmt::format(
          "cluster: {} cannot be served: rank {} did not acknowledge its invalidation within {} "
          "ms",
          describe(page), p.failed_rank, ms(settings_.timeout)));
    }
    if ((p.requested & satisfying(want)) == 0) {
      p.requested |= request_bit(want);
      const message_kind k =
          want == page_access::write ? message_kind::request_write : message_kind::request_read;
      link_.send(home_of(page), message_header{.kind = k, .access = want, .page = page});
      counts_.requests.fetch_add(1, std::memory_order_relaxed);
    }
    if (granted_.wait_until(lock, deadline) == std::cv_status::timeout && p.held < want &&
        p.failed == failure_reason::none) {
      throw uvm::timeout(
          fmt::format("cluster: {} was not granted for {} within {} ms", describe(page),
                      want == page_access::write ? "writing" : "reading", ms(settings_.timeout)));
    }
  }
}

page_access cluster_node::access(std::size_t page) const {
  const std::lock_guard lock(mutex_);
  return page < pages_.size() ? pages_[page].held : page_access::none;
}

void cluster_node::close() {
  {
    const std::lock_guard lock(mutex_);
    closed_ = true;
  }
  link_.close(settings_.timeout);
}

cluster_node::counts cluster_node::stats() const {
  const auto get = [](const std::atomic<std::uint64_t>& a) {
    return a.load(std::memory_order_relaxed);
  };
  return {get(counts_.requests),
          get(counts_.grants_with_data),
          get(counts_.invalidations_sent),
          get(counts_.invalidations_received),
          get(counts_.recalls_sent),
          get(counts_.recalls_received),
          get(counts_.failures)};
}

void cluster_node::on_message(int from, const message_header& h, std::span<const std::byte> data) {
  if (h.page >= settings_.pages || (h.with_data && data.size() != settings_.page_bytes)) {
    log().error("cluster: dropped a {} of page {} with {} bytes from rank {}", to_string(h.kind),
                h.page, data.size(), from);
    return;
  }
  switch (h.kind) {
    case message_kind::request_read:
    case message_kind::request_write:
      directory_.request(h.page, from, h.access, now_ns(), outs_);
      send_all(outs_);
      return;
    case message_kind::invalidate_ack:
    case message_kind::recall_ack:
      if (h.with_data) std::memcpy(copies_.bytes(h.page).data(), data.data(), data.size());
      directory_.acknowledged(h.page, from, h.kind, outs_);
      send_all(outs_);
      return;
    case message_kind::grant: on_grant(h, data); return;
    case message_kind::invalidate:
    case message_kind::recall: on_revoke(from, h); return;
    case message_kind::failure: on_failure(h); return;
  }
  log().error("cluster: dropped a message of unknown kind {} from rank {}",
              static_cast<int>(h.kind), from);
}

void cluster_node::on_grant(const message_header& h, std::span<const std::byte> data) {
  if (h.with_data) {
    std::memcpy(copies_.bytes(h.page).data(), data.data(), data.size());
    counts_.grants_with_data.fetch_add(1, std::memory_order_relaxed);
  }
  copies_.allow(h.page, h.access);
  const std::lock_guard lock(mutex_);
  local_page& p = pages_[h.page];
  p.held = h.access;
  p.requested &= h.access == page_access::write ? 0 : ~request_bit(page_access::read);
  granted_.notify_all();
}

void cluster_node::on_revoke(int from, const message_header& h) {
  const bool recall = h.kind == message_kind::recall;
  const page_access kept = recall ? h.access : page_access::none;
  {
    const std::lock_guard lock(mutex_);
    local_page& p = pages_[h.page];
    p.held = std::min(p.held, kept);
  }
  copies_.narrow(h.page, kept);
  (recall ? counts_.recalls_received : counts_.invalidations_received)
      .fetch_add(1, std::memory_order_relaxed);
  // A recalled page's data goes back to its home, unless this process is the home: its copy is
  // the home's.
  const bool with_data = recall && from != rank();
  message_header ack{.kind = recall ? message_kind::recall_ack : message_kind::invalidate_ack,
                     .access = kept,
                     .with_data = with_data,
                     .page = h.page};
  link_.send(from, ack, with_data ? copies_.bytes(h.page) : std::span<std::byte>{});
}

void cluster_node::on_failure(const message_header& h) {
  counts_.failures.fetch_add(1, std::memory_order_relaxed);
  const std::lock_guard lock(mutex_);
  local_page& p = pages_[h.page];
  p.failed = h.reason == failure_reason::none ? failure_reason::unanswered : h.reason;
  p.failed_rank = h.rank;
  p.requested = 0;
  granted_.notify_all();
}

void cluster_node::send_all(std::vector<directory::out>& outs) {
  for (directory::out& o : outs) {
    if (o.header.kind == message_kind::invalidate) {
      counts_.invalidations_sent.fetch_add(1, std::memory_order_relaxed);
    } else if (o.header.kind == message_kind::recall) {
      counts_.recalls_sent.fetch_add(1, std::memory_order_relaxed);
    }
    // The home's copy is this process's: a grant to itself moves nothing.
    if (o.to == rank()) o.header.with_data = false;
    link_.send(o.to, o.header,
               o.header.with_data ? copies_.bytes(o.header.page) : std::span<std::byte>{});
  }
  outs.clear();
}

}  // namespace uvm::detail
