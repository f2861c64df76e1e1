#pragma once

// The cluster's messages over MPI: a duplicate of the application's communicator, one thread
// that makes progress (sends in the order they were queued, receives, and calls back), and a
// collective close. Only that thread calls MPI after start(), so the signal handler and the
// application's threads never do; sends from any thread are queued for it.

#include "host/cluster/protocol.hpp"

#include <mpi.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <list>
#include <mutex>
#include <span>
#include <string_view>
#include <thread>
#include <vector>

namespace uvm::detail {

/// Throws uvm::invalid_argument, naming `who`, unless MPI is initialised with
/// MPI_THREAD_MULTIPLE (a progress thread calls MPI beside the application's threads) and
/// `comm` is a communicator.
void expect_usable(MPI_Comm comm, std::string_view who);

class cluster_link {
 public:
  using message_handler =
      std::function<void(int from, const message_header& h, std::span<const std::byte> data)>;

  /// Duplicates `comm` (collective). @throws uvm::invalid_argument if `comm` is null, or MPI
  /// was not initialised with MPI_THREAD_MULTIPLE.
  explicit cluster_link(MPI_Comm comm);
  /// Stops the progress thread if close() did not (not collective: messages in flight are
  /// dropped), then frees the communicator.
  ~cluster_link();
  cluster_link(const cluster_link&) = delete;
  cluster_link& operator=(const cluster_link&) = delete;

  [[nodiscard]] int rank() const noexcept { return rank_; }
  [[nodiscard]] int size() const noexcept { return size_; }
  /// The duplicate, for collective checks before start().
  [[nodiscard]] MPI_Comm comm() const noexcept { return comm_; }

  /// Starts the progress thread: `on_message` for each message received, `on_tick` about once
  /// a millisecond. Both run on that thread and may call send().
  void start(message_handler on_message, std::function<void()> on_tick);

  /// Queues a message to `to`; messages to one process leave in the order they were queued.
  /// Thread-safe; never waits for the network.
  void send(int to, const message_header& h, std::span<const std::byte> data = {});

  /// Collective: keeps serving until every process has called close(), then stops the progress
  /// thread. @throws uvm::timeout if some process has not called it within `timeout` (the
  /// thread then goes on serving, and the destructor stops it).
  void close(std::chrono::nanoseconds timeout);

  /// Stops the progress thread at once (not collective: messages in flight are dropped).
  void stop() noexcept;

  /// While true, the progress thread neither sends nor receives: a process that stops
  /// answering, for tests.
  void stall(bool on) noexcept { stalled_.store(on, std::memory_order_release); }

  /// Bytes sent to and received from each rank.
  [[nodiscard]] std::uint64_t bytes_to(int rank) const noexcept {
    return bytes_to_[static_cast<std::size_t>(rank)].load(std::memory_order_relaxed);
  }
  [[nodiscard]] std::uint64_t bytes_from(int rank) const noexcept {
    return bytes_from_[static_cast<std::size_t>(rank)].load(std::memory_order_relaxed);
  }

 private:
  struct outgoing {
    int to;
    std::vector<std::byte> bytes;
    MPI_Request request = MPI_REQUEST_NULL;
  };

  void run(const message_handler& on_message, const std::function<void()>& on_tick);
  bool flush_sends();
  void drop_in_flight() noexcept;
  bool receive(const message_handler& on_message);

  static constexpr int tag = 0x75766d;  // "uvm"
  MPI_Comm comm_ = MPI_COMM_NULL;
  int rank_ = 0;
  int size_ = 0;
  std::mutex queue_mutex_;
  std::vector<outgoing> queue_;
  std::list<outgoing> in_flight_;  // owned by the progress thread
  std::vector<std::byte> inbox_;
  std::unique_ptr<std::atomic<std::uint64_t>[]> bytes_to_;
  std::unique_ptr<std::atomic<std::uint64_t>[]> bytes_from_;
  std::atomic<bool> stalled_{false};
  std::atomic<bool> closing_{false};
  std::atomic<bool> stopping_{false};
  std::mutex closed_mutex_;
  std::condition_variable closed_cv_;
  bool closed_ = false;
  std::thread thread_;
};

}  // namespace uvm::detail
