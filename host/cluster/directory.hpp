#pragma once

// The home side of the cluster protocol, as a pure state machine: for the pages a process is
// home of, who holds a copy (one writable owner, or read-only sharers), and the one transaction
// under way per page, with the requests queued behind it. It decides which messages go out; the
// caller sends them and moves the data (a grant `with_data` carries the home's copy; a recall's
// acknowledgement brings the owner's data into it before acknowledged() is called).
//
// The home's copy is valid whenever no process holds the page writable. Requests for one page
// are served one at a time, in the order they arrived, so every process sees the writes to a
// page in one order (sequential consistency per page).

#include "host/cluster/protocol.hpp"

#include <cstddef>
#include <cstdint>
#include <deque>
#include <unordered_map>
#include <vector>

namespace uvm::detail {

class directory {
 public:
  /// Processes are numbered 0..max_ranks-1 (a bit each in the sharer set).
  static constexpr int max_ranks = 64;

  /// A message the caller sends to `to`.
  struct out {
    int to = -1;
    message_header header;
  };

  /// A request from `from` for `page`: served now, or queued behind the page's transaction.
  void request(std::uint64_t page, int from, page_access want, std::uint64_t now_ns,
               std::vector<out>& outs);

  /// `from` acknowledged an invalidation or a recall of `page`. Ignored unless the page's
  /// transaction waits for it (a late acknowledgement of a transaction that failed).
  void acknowledged(std::uint64_t page, int from, message_kind ack, std::vector<out>& outs);

  /// Fails every transaction started before `now_ns - timeout_ns` and still waiting: its
  /// requester and those queued behind it get a failure, and so does every later request for
  /// the page (its copies can no longer be trusted).
  void expire(std::uint64_t now_ns, std::uint64_t timeout_ns, std::vector<out>& outs);

  /// Which ranks hold `page`, for tests and reports.
  struct holders {
    int owner = -1;
    std::uint64_t sharers = 0;
    bool busy = false;
    failure_reason failed = failure_reason::none;
  };
  [[nodiscard]] holders holders_of(std::uint64_t page) const;

  /// Transactions under way.
  [[nodiscard]] std::size_t busy() const noexcept { return busy_; }

 private:
  struct pending {
    int from;
    page_access want;
    std::uint64_t at_ns;
  };
  struct entry {
    int owner = -1;
    std::uint64_t sharers = 0;
    bool busy = false;
    pending current{};
    std::uint64_t waiting_on = 0;  // ranks whose acknowledgements are missing
    bool recalling = false;        // the owner's data is among them
    failure_reason failed = failure_reason::none;
    int failed_rank = -1;
    std::deque<pending> queue;
  };

  void start(std::uint64_t page, entry& e, const pending& p, std::vector<out>& outs);
  void finish(std::uint64_t page, entry& e, std::vector<out>& outs);
  // Starts the queued requests of `e` until one waits.
  void next(std::uint64_t page, entry& e, std::vector<out>& outs);
  static void fail(std::uint64_t page, const entry& e, int to, std::vector<out>& outs);

  std::unordered_map<std::uint64_t, entry> entries_;
  std::size_t busy_ = 0;
};

}  // namespace uvm::detail
