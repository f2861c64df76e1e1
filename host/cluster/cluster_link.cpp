#include "host/cluster/cluster_link.hpp"

#include "host/common/check.hpp"
#include "host/telemetry/log.hpp"

#include <uvm/error.hpp>

#include <sys/prctl.h>

#include <cstring>
#include <ctime>

namespace uvm::detail {

namespace {

void check_mpi(int rc, const char* call) {
  if (rc == MPI_SUCCESS) return;
  char text[MPI_MAX_ERROR_STRING];
  int length = 0;
  MPI_Error_string(rc, text, &length);
  throw uvm::error(fmt::format("cluster: {} failed: {}", call, std::string_view(text, length)));
}

}  // namespace

void expect_usable(MPI_Comm comm, std::string_view who) {
  int initialised = 0;
  MPI_Initialized(&initialised);
  UVM_EXPECTS(initialised != 0, "{}: MPI is not initialised (call MPI_Init_thread first)", who);
  int provided = 0;
  MPI_Query_thread(&provided);
  UVM_EXPECTS(provided == MPI_THREAD_MULTIPLE,
              "{}: MPI was initialised without MPI_THREAD_MULTIPLE (level {}); the cluster's "
              "progress thread calls MPI beside the application's threads",
              who, provided);
  UVM_EXPECTS(comm != MPI_COMM_NULL, "{}: the communicator is MPI_COMM_NULL", who);
}

cluster_link::cluster_link(MPI_Comm comm) {
  expect_usable(comm, "cluster");
  check_mpi(MPI_Comm_dup(comm, &comm_), "MPI_Comm_dup");
  // Errors come back as codes and become exceptions or logged failures, never an abort.
  MPI_Comm_set_errhandler(comm_, MPI_ERRORS_RETURN);
  MPI_Comm_rank(comm_, &rank_);
  MPI_Comm_size(comm_, &size_);
  bytes_to_ = std::make_unique<std::atomic<std::uint64_t>[]>(static_cast<std::size_t>(size_));
  bytes_from_ = std::make_unique<std::atomic<std::uint64_t>[]>(static_cast<std::size_t>(size_));
}

cluster_link::~cluster_link() {
  stop();
  drop_in_flight();
  if (comm_ != MPI_COMM_NULL) MPI_Comm_free(&comm_);
}

void cluster_link::stop() noexcept {
  stopping_.store(true, std::memory_order_release);
  if (thread_.joinable()) thread_.join();
}

void cluster_link::start(message_handler on_message, std::function<void()> on_tick) {
  thread_ = std::thread([this, on_message = std::move(on_message), on_tick = std::move(on_tick)] {
    run(on_message, on_tick);
  });
}

void cluster_link::send(int to, const message_header& h, std::span<const std::byte> data) {
  outgoing o{to, std::vector<std::byte>(sizeof h + data.size())};
  std::memcpy(o.bytes.data(), &h, sizeof h);
  if (!data.empty()) std::memcpy(o.bytes.data() + sizeof h, data.data(), data.size());
  const std::lock_guard lock(queue_mutex_);
  queue_.push_back(std::move(o));
}

void cluster_link::close(std::chrono::nanoseconds timeout) {
  closing_.store(true, std::memory_order_release);
  std::unique_lock lock(closed_mutex_);
  if (!closed_cv_.wait_for(lock, timeout, [this] { return closed_; })) {
    throw uvm::timeout(
        fmt::format("cluster: rank {} of {} closed, but not every process did within {} ms", rank_,
                    size_, std::chrono::duration_cast<std::chrono::milliseconds>(timeout).count()));
  }
  lock.unlock();
  if (thread_.joinable()) thread_.join();
}

void cluster_link::drop_in_flight() noexcept {
  for (outgoing& o : in_flight_) {
    int done = 0;
    MPI_Test(&o.request, &done, MPI_STATUS_IGNORE);
    if (done != 0) continue;
    MPI_Cancel(&o.request);
    MPI_Request_free(&o.request);
  }
  in_flight_.clear();
}

bool cluster_link::flush_sends() {
  std::vector<outgoing> batch;
  {
    const std::lock_guard lock(queue_mutex_);
    batch.swap(queue_);
  }
  for (outgoing& o : batch) {
    const int rc = MPI_Isend(o.bytes.data(), static_cast<int>(o.bytes.size()), MPI_BYTE, o.to, tag,
                             comm_, &o.request);
    if (rc != MPI_SUCCESS) {
      log().error("cluster: sending {} bytes to rank {} failed (MPI error {})", o.bytes.size(),
                  o.to, rc);
      continue;
    }
    bytes_to_[static_cast<std::size_t>(o.to)].fetch_add(o.bytes.size(), std::memory_order_relaxed);
    in_flight_.push_back(std::move(o));
  }
  for (auto it = in_flight_.begin(); it != in_flight_.end();) {
    int done = 0;
    MPI_Test(&it->request, &done, MPI_STATUS_IGNORE);
    it = done != 0 ? in_flight_.erase(it) : std::next(it);
  }
  return !batch.empty();
}

bool cluster_link::receive(const message_handler& on_message) {
  bool any = false;
  for (int n = 0; n < 64; ++n) {
    int flag = 0;
    MPI_Message msg{};
    MPI_Status status{};
    if (MPI_Improbe(MPI_ANY_SOURCE, tag, comm_, &flag, &msg, &status) != MPI_SUCCESS || flag == 0) {
      break;
    }
    int count = 0;
    MPI_Get_count(&status, MPI_BYTE, &count);
    inbox_.resize(static_cast<std::size_t>(count));
    MPI_Mrecv(inbox_.data(), count, MPI_BYTE, &msg, MPI_STATUS_IGNORE);
    any = true;
    const int from = status.MPI_SOURCE;
    bytes_from_[static_cast<std::size_t>(from)].fetch_add(inbox_.size(), std::memory_order_relaxed);
    if (inbox_.size() < sizeof(message_header)) {
      log().error("cluster: a message of {} bytes from rank {} is too short; dropped",
                  inbox_.size(), from);
      continue;
    }
    message_header h;
    std::memcpy(&h, inbox_.data(), sizeof h);
    try {
      on_message(from, h, std::span<const std::byte>(inbox_).subspan(sizeof h));
    } catch (const std::exception& e) {
      log().error("cluster: handling {} of page {} from rank {} failed: {}", to_string(h.kind),
                  h.page, from, e.what());
    }
  }
  return any;
}

void cluster_link::run(const message_handler& on_message, const std::function<void()>& on_tick) {
  prctl(PR_SET_NAME, "uvm-cluster");
  // Idle, the thread naps for growing spans (a process stops spinning a core of its own), and
  // any message sends it back to polling.
  prctl(PR_SET_TIMERSLACK, 1000UL);
  MPI_Request barrier = MPI_REQUEST_NULL;
  unsigned idle = 0;
  auto last_tick = std::chrono::steady_clock::now();
  while (!stopping_.load(std::memory_order_acquire)) {
    if (stalled_.load(std::memory_order_acquire)) {
      const timespec nap{0, 200'000};
      nanosleep(&nap, nullptr);
      continue;
    }
    bool busy = flush_sends();
    busy |= receive(on_message);
    const auto now = std::chrono::steady_clock::now();
    if (now - last_tick >= std::chrono::milliseconds(1)) {
      last_tick = now;
      try {
        on_tick();
      } catch (const std::exception& e) {
        log().error("cluster: {}", e.what());
      }
    }
    if (closing_.load(std::memory_order_acquire)) {
      if (barrier == MPI_REQUEST_NULL) MPI_Ibarrier(comm_, &barrier);
      int done = 0;
      MPI_Test(&barrier, &done, MPI_STATUS_IGNORE);
      if (done != 0) {
        // Every process has finished its accesses, so no transaction is under way. What may
        // still be leaving is a late answer to a transaction that failed, which nobody will
        // receive now: it is dropped.
        (void)flush_sends();
        drop_in_flight();
        const std::lock_guard lock(closed_mutex_);
        closed_ = true;
        closed_cv_.notify_all();
        return;
      }
    }
    if (busy || !in_flight_.empty()) {
      idle = 0;
      continue;
    }
    ++idle;
    if (idle < 64) continue;
    const long ns = idle < 256 ? 2'000 : (idle < 1024 ? 20'000 : 100'000);
    const timespec nap{0, ns};
    nanosleep(&nap, nullptr);
  }
}

}  // namespace uvm::detail
