#pragma once

// Stream-ordered prefetches and discards (cudaMemPrefetchAsync, cudaMemPrefetchBatchAsync,
// cudaMemDiscardBatchAsync). The call records an event on its stream (the work before it) and
// enqueues a gate (the work after it waits there), then returns. One worker thread runs each
// operation once its stream has reached it, through the migrator's pipelined moves on the copy
// streams, and opens the gate: work queued later on the stream sees the pages in place, and
// operations on different streams overlap each other and the kernels.
//
// An operation that moves pages to the host (or drops them) waits, besides, for the kernels
// placed before it that may use them; launches on other streams that may use them wait for it
// meanwhile (the fairness and order of kernel_epochs). Operations are picked in queue order
// among those ready, one at a time per stream; such an operation is ready once it has claimed
// its pages (kernel_epochs::claim), so running it never waits for a kernel. A failure is kept and
// reported by the next take_error() (the manager's synchronize), as CUDA reports asynchronous
// errors.
//
// Operations of different streams overlap: while other operations are queued, a prefetch's last
// chunk is left copying (migrator::in_flight_move) and the worker goes on with the next ready
// operation, so one stream's move to the device, another's way back and the planning of a third
// share the copy engines as a GPU's do; the operation is finished, and its gate opened, once its
// copies land. An operation whose pages overlap one in flight waits for it.
//
// Operations that threads queue on one stream at once run in the order in which their calls took
// effect: the event, the gate and the queue entry of one operation are made under the stream
// issue lock (which kernel launches take too), so no other operation or kernel lands between an
// operation's event and its gate, and the queue's order per stream is the stream's order.

#include "host/backend/backend.hpp"
#include "host/coherence/managed_range.hpp"
#include "host/migration/migrator.hpp"
#include "host/model/device_model.hpp"

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <list>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace uvm::detail {

class move_queue {
 public:
  enum class op : std::uint8_t { to_device, to_host, discard };
  struct item {
    managed_range* range;
    std::size_t first;  ///< pages
    std::size_t count;
    op what;
    device_id device = 0;  ///< where a move to the device goes
  };

  /// Starts the worker thread ("uvm-moves"). `timeout` bounds an operation's wait for kernels.
  /// `issue` is the lock that every enqueue of work on a stream (kernels included) holds.
  /// `model`, if not null, is told of each operation (its place on its stream, its end).
  move_queue(backend& b, migrator& m, std::chrono::nanoseconds timeout, std::mutex& issue,
             device_model* model = nullptr);
  /// stop().
  ~move_queue();
  move_queue(const move_queue&) = delete;
  move_queue& operator=(const move_queue&) = delete;

  /// Queues `items` as one operation on `s`, after the work queued on `s` so far and before the
  /// work queued after; within it the items run in order (discards before prefetches, as the
  /// caller lists them). With max_queued operations queued already, waits for room first.
  /// @throws uvm::timeout if there is none within the timeout, std::bad_alloc or a backend
  /// error (nothing is queued then).
  void enqueue(std::vector<item> items, const stream& s);

  /// Waits until no queued or running operation uses `r` (a free waits so).
  /// @return false if one still did at `timeout`.
  [[nodiscard]] bool wait_range(const managed_range* r, std::chrono::nanoseconds timeout) noexcept;

  /// Waits until the operations queued before the call have run, not those queued meanwhile
  /// (a device-wide synchronize). @return false at `timeout`.
  [[nodiscard]] bool wait_queued(std::chrono::nanoseconds timeout) noexcept;

  /// The first failure of a queued operation since the last call, or "".
  [[nodiscard]] std::string take_error();

  /// Runs what is queued (an operation whose stream does not reach it within the timeout is
  /// dropped, with an error log: its gate opens), then joins the worker. Idempotent.
  void stop() noexcept;

 private:
  static constexpr std::size_t max_queued = 512;   // below the CUDA backend's gate slots
  static constexpr std::size_t max_in_flight = 2;  // operations left copying at once
  struct request {
    std::uint64_t id;  // in queue order
    std::vector<item> items;
    std::vector<page_use> back;  // the pages its items move to the host or drop
    stream on;
    event start;  // the work queued on `on` before the operation
    gate after;   // the work queued on `on` after it waits here
    queue_position at;
    bool waits = false;                // a waiter was added (moves to the host, discards)
    device_model::op_id modelled = 0;  // its operation in the device model (model_ set)
    bool running = false;
    migrator::in_flight_move copying;  // its last chunk, still copying (id 0: none)
    std::chrono::steady_clock::time_point queued;
    std::chrono::steady_clock::time_point executed{};  // when it was left copying
    std::chrono::steady_clock::time_point reached{};   // when `start` was seen complete
  };

  void run() noexcept;
  // mutex_ held. Whether `r` may run now (or must, having waited past the timeout).
  bool ready(request& r, std::chrono::steady_clock::time_point now) noexcept;
  // mutex_ not held. With `leave`, its last prefetch may be left copying (r.copying); the
  // operation is done otherwise.
  void execute(request& r, bool leave) noexcept;
  // mutex_ not held. Ends an operation that has run: its gate opens.
  void finish(request& r) noexcept;
  // mutex_ held through `lock` (released while finishing). Finishes the operations left copying
  // whose copies have landed (or outlived the timeout). @return how many are still copying.
  std::size_t finish_landed(std::unique_lock<std::mutex>& lock);
  // Whether an item of `r` overlaps one of an operation left copying (mutex_ held).
  [[nodiscard]] bool overlaps_in_flight(const request& r) const noexcept;
  void fail(const std::string& what) noexcept;

  backend& backend_;
  migrator& migrator_;
  std::chrono::nanoseconds timeout_;
  std::mutex& issue_;  // held from an operation's event to its place in queue_
  device_model* model_;
  std::mutex mutex_;
  std::condition_variable wake_;  // the worker: new work, or stop
  std::condition_variable done_;  // wait_range: an operation finished
  std::list<request> queue_;      // in queue order; a running one stays until it is done
  std::string error_;
  std::uint64_t next_id_ = 0;
  bool stopping_ = false;
  std::mutex join_mutex_;
  std::thread worker_;  // last: starts once everything above exists
};

}  // namespace uvm::detail
