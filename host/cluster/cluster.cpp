#include <uvm/cluster.hpp>

#include "host/cluster/cluster_node.hpp"
#include "host/cluster/range_copies.hpp"
#include "host/common/check.hpp"
#include "host/fault/service/range_gate.hpp"
#include "host/telemetry/log.hpp"

#include <array>
#include <cerrno>

namespace uvm {

namespace {

// The gate of a cluster range: a fault that would widen a page's access asks its home.
class node_gate final : public detail::range_gate {
 public:
  explicit node_gate(detail::cluster_node& node) : node_(node) {}

 private:
  int do_widen(std::size_t page, detail::access a) noexcept override {
    try {
      node_.acquire(page, a == detail::access::write ? detail::page_access::write
                                                     : detail::page_access::read);
      return 0;
    } catch (const uvm::timeout& e) {
      detail::log().error("{}", e.what());
      return ETIMEDOUT;
    } catch (const std::exception& e) {
      detail::log().error("{}", e.what());
      return EIO;
    }
  }

  detail::cluster_node& node_;
};

}  // namespace

struct cluster_range::state {
  range memory;
  std::unique_ptr<detail::range_copies> copies;
  std::unique_ptr<detail::cluster_node> node;
  std::unique_ptr<node_gate> gate;

  ~state() {
    // The progress thread stops first (nothing narrows or fills the range any more), then the
    // range goes (no fault can reach the gate), then the rest.
    if (node != nullptr) node->stop();
    memory.reset();
  }
};

cluster_range::cluster_range() noexcept = default;
cluster_range::cluster_range(std::unique_ptr<state> s) noexcept : state_(std::move(s)) {}
cluster_range::cluster_range(cluster_range&&) noexcept = default;
cluster_range& cluster_range::operator=(cluster_range&& other) noexcept {
  if (this != &other) {
    cluster_range old(std::move(*this));
    state_ = std::move(other.state_);
  }
  return *this;
}

cluster_range::~cluster_range() {
  try {
    close();
  } catch (const std::exception& e) {
    detail::log().error("closing a cluster range: {}", e.what());
  }
}

std::byte* cluster_range::data() const noexcept {
  return state_ != nullptr ? state_->memory.data() : nullptr;
}
std::size_t cluster_range::size() const noexcept {
  return state_ != nullptr ? state_->memory.size() : 0;
}
std::size_t cluster_range::page_size() const noexcept {
  return state_ != nullptr ? state_->memory.page_size() : 0;
}
std::size_t cluster_range::page_count() const noexcept {
  return state_ != nullptr ? state_->memory.page_count() : 0;
}

int cluster_range::home_of(const void* p) const {
  const auto* b = static_cast<const std::byte*>(p);
  UVM_EXPECTS(state_ != nullptr && b >= data() && b < data() + page_count() * page_size(),
              "uvm::cluster_range::home_of({}): not inside the range", p);
  return state_->node->home_of(static_cast<std::size_t>(b - data()) / page_size());
}

cluster_stats cluster_range::stats() const {
  cluster_stats s;
  if (state_ == nullptr) return s;
  const detail::cluster_node::counts c = state_->node->stats();
  s.remote_faults = c.requests;
  s.pages_received = c.grants_with_data;
  s.invalidations_sent = c.invalidations_sent;
  s.invalidations_received = c.invalidations_received;
  s.recalls_sent = c.recalls_sent;
  s.recalls_received = c.recalls_received;
  s.failures = c.failures;
  const detail::cluster_link& link = state_->node->link();
  for (int r = 0; r < link.size(); ++r) {
    s.bytes_to.push_back(link.bytes_to(r));
    s.bytes_from.push_back(link.bytes_from(r));
  }
  return s;
}

void cluster_range::close() {
  if (state_ == nullptr) return;
  state_->node->close();
  state_.reset();
}

cluster::cluster(manager& mgr, MPI_Comm comm) : mgr_(&mgr), comm_(comm) {
  detail::expect_usable(comm, "uvm::cluster");
  MPI_Comm_rank(comm_, &rank_);
  MPI_Comm_size(comm_, &size_);
}

void cluster::barrier() const {
  MPI_Barrier(comm_);
}

cluster_range cluster::allocate(std::size_t bytes, home_rule homes) {
  const config& cfg = mgr_->configuration();
  // Checked together, so that every process throws, not only the ones whose input differs.
  const std::array<std::uint64_t, 3> mine{bytes, cfg.page_size, static_cast<std::uint64_t>(homes)};
  std::array<std::uint64_t, 3> lo{};
  std::array<std::uint64_t, 3> hi{};
  MPI_Allreduce(mine.data(), lo.data(), 3, MPI_UINT64_T, MPI_MIN, comm_);
  MPI_Allreduce(mine.data(), hi.data(), 3, MPI_UINT64_T, MPI_MAX, comm_);
  UVM_EXPECTS(lo == hi,
              "uvm::cluster::allocate: the processes disagree: sizes {}..{} bytes, page sizes "
              "{}..{}, home rules {}..{} (this process: {} bytes)",
              lo[0], hi[0], lo[1], hi[1], lo[2], hi[2], bytes);
  UVM_EXPECTS(bytes != 0, "uvm::cluster::allocate: size 0");
  auto s = std::make_unique<cluster_range::state>();
  std::string failure;
  try {
    s->memory = mgr_->allocate(bytes);
  } catch (const std::exception& e) {
    failure = e.what();
  }
  int ok = failure.empty() ? 1 : 0;
  int all = 0;
  MPI_Allreduce(&ok, &all, 1, MPI_INT, MPI_MIN, comm_);
  if (all == 0) {
    throw uvm::error(fmt::format("uvm::cluster::allocate of {} bytes failed on {}: {}", bytes,
                                 ok == 0 ? "this process" : "another process",
                                 ok == 0 ? failure : "see its error"));
  }
  detail::managed_range& r = *s->memory.impl_;
  const auto timeout = std::chrono::duration_cast<std::chrono::nanoseconds>(cfg.fault_timeout) / 4 *
                       3;  // a fault hears why before its own wait ends
  s->copies = std::make_unique<detail::range_copies>(r, timeout);
  s->node = std::make_unique<detail::cluster_node>(
      comm_,
      detail::cluster_node::settings{
          .pages = r.page_count(),
          .page_bytes = r.page_size(),
          .homes = homes == home_rule::block ? detail::home_rule::block : detail::home_rule::cyclic,
          .timeout = timeout,
          .base = r.base()},
      *s->copies);
  s->gate = std::make_unique<node_gate>(*s->node);
  r.set_gate(s->gate.get());
  return cluster_range(std::move(s));
}

}  // namespace uvm
