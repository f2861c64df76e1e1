#pragma once

// One process's part of a range shared by the processes of an MPI communicator: the protocol
// state of its own copies (what each allows, which requests are out), the directory of the
// pages it is home of, and the link that carries the messages. acquire() is what a fault calls:
// it asks the page's home for the access and waits, bounded, for the grant; the progress thread
// answers the homes' invalidations and recalls through local_copies, and runs the directory.

#include "host/cluster/cluster_link.hpp"
#include "host/cluster/directory.hpp"
#include "host/cluster/home_rule.hpp"
#include "host/cluster/local_copies.hpp"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

namespace uvm::detail {

class cluster_node {
 public:
  struct settings {
    std::size_t pages = 0;
    std::size_t page_bytes = 0;
    home_rule homes = home_rule::block;
    /// How long an access waits for its grant; a home waits three quarters of it for the
    /// answers it needs, then fails the page (lost, or a process silent).
    std::chrono::nanoseconds timeout = std::chrono::seconds(10);
    /// Where page 0 is in this process, for error messages (may be null).
    const void* base = nullptr;
  };

  /// Counts since the node started.
  struct counts {
    std::uint64_t requests = 0;            ///< sent by this process (its remote faults)
    std::uint64_t grants_with_data = 0;    ///< grants that brought a page's bytes
    std::uint64_t invalidations_sent = 0;  ///< by this process as a home
    std::uint64_t invalidations_received = 0;
    std::uint64_t recalls_sent = 0;
    std::uint64_t recalls_received = 0;
    std::uint64_t failures = 0;  ///< requests answered with a failure
  };

  /// Collective over `comm`. Every process must pass the same pages, page_bytes and homes.
  /// @throws uvm::invalid_argument (on every process) if they differ, if a setting is zero, or
  /// if the communicator has more than directory::max_ranks processes.
  cluster_node(MPI_Comm comm, const settings& s, local_copies& copies);
  ~cluster_node();
  cluster_node(const cluster_node&) = delete;
  cluster_node& operator=(const cluster_node&) = delete;

  [[nodiscard]] int rank() const noexcept { return link_.rank(); }
  [[nodiscard]] int size() const noexcept { return link_.size(); }
  [[nodiscard]] int home_of(std::size_t page) const noexcept {
    return detail::home_of(page, settings_.pages, link_.size(), settings_.homes);
  }

  /// Returns once this process may do `want` with `page` (at once if it may already).
  /// @throws uvm::invalid_argument if `page` is out of range or `want` is none.
  /// @throws uvm::timeout if the home did not grant it within the timeout.
  /// @throws uvm::error if the home reported the page lost or a process silent.
  void acquire(std::size_t page, page_access want);

  /// What this process may do with `page` now.
  [[nodiscard]] page_access access(std::size_t page) const;

  /// Collective: returns once every process has called close(); no access may follow.
  /// @throws uvm::timeout if some process has not within the timeout.
  void close();

  /// Stops answering at once (not collective), for a range that goes away without close().
  void stop() noexcept { link_.stop(); }

  [[nodiscard]] counts stats() const;
  [[nodiscard]] const cluster_link& link() const noexcept { return link_; }
  /// A process that stops answering, for tests (see cluster_link::stall).
  void stall(bool on) noexcept { link_.stall(on); }

 private:
  struct local_page {
    page_access held = page_access::none;
    std::uint8_t requested = 0;  // bit 1 << want: a request for it is out
    failure_reason failed = failure_reason::none;
    std::int32_t failed_rank = -1;
  };

  void on_message(int from, const message_header& h, std::span<const std::byte> data);
  void on_grant(const message_header& h, std::span<const std::byte> data);
  void on_revoke(int from, const message_header& h);
  void on_failure(const message_header& h);
  void send_all(std::vector<directory::out>& outs);
  [[nodiscard]] std::uint64_t now_ns() const noexcept;
  // "page N (0x...) of home rank H", for errors.
  [[nodiscard]] std::string describe(std::size_t page) const;

  settings settings_;
  local_copies& copies_;
  cluster_link link_;
  directory directory_;  // the progress thread's alone
  mutable std::mutex mutex_;
  std::condition_variable granted_;
  std::vector<local_page> pages_;
  std::vector<directory::out> outs_;  // the progress thread's scratch
  struct atomic_counts {
    std::atomic<std::uint64_t> requests{0}, grants_with_data{0}, invalidations_sent{0},
        invalidations_received{0}, recalls_sent{0}, recalls_received{0}, failures{0};
  } counts_;
  bool closed_ = false;
};

}  // namespace uvm::detail
