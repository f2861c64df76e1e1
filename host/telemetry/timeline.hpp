#pragma once

// The run's timeline (config::timeline_path, UVM_TIMELINE): events pushed by any thread into a
// lock-free ring, written out incrementally by the service thread as Chrome trace event JSON
// (what the Perfetto UI and chrome://tracing open), finished when the manager is destroyed.
//
// Tracks, one per (pid, tid) in the file: each CPU thread that faulted (its faults), the service
// thread (its fault batches), `copies to device` and `copies to host` (migrations, evictions,
// prefetches: one event per chunk of moves, from its copies' issue to their landing), one per
// stream (`stream <name>`: its kernel epochs) and `events` (instants: ranges, thrashing, pins,
// remote mappings). Within a track events never overlap and are in time order: an event that
// would overlap the one before goes to a further lane of the track, `<track> (2)` and so on.
//
// Memory is bounded: an event that finds the ring full is dropped, and the count of dropped
// events is written into the file's metadata. The file is the creating process's: a child of
// fork() neither writes nor closes it.

#include "host/common/bounded_queue.hpp"
#include "host/common/waker.hpp"
#include "host/telemetry/timeline_event.hpp"

#include <atomic>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <sys/types.h>

namespace uvm::detail {

class stream_base;

class timeline {
 public:
  static constexpr std::size_t capacity = std::size_t{1} << 15;

  /// Creates `path` and writes the file's head. The first timeline of a process asked for a
  /// path writes it; later ones asked for the same path (a program, or uvm-bench, that creates
  /// several managers under one UVM_TIMELINE) write `<stem>.2<ext>`, `<stem>.3<ext>` and so on
  /// beside it: path() says which, and an info line names it.
  /// @throws uvm::system_error naming the file if it cannot be created.
  explicit timeline(const std::string& path);
  /// finish().
  ~timeline();
  timeline(const timeline&) = delete;
  timeline& operator=(const timeline&) = delete;

  /// Async-signal-safe. An event that finds the ring full is dropped and counted; one that fills
  /// the ring past half calls the waker (set_waker), so the writer drains it soon.
  void push(const timeline_event& e) noexcept {
    if (!ring_.try_push(e)) {
      dropped_.fetch_add(1, std::memory_order_relaxed);
      return;
    }
    if (pending_.fetch_add(1, std::memory_order_relaxed) + 1 == capacity / 2) wake_writer();
  }
  /// What push calls when the ring becomes half full: async-signal-safe, and it must stay valid
  /// until set_waker(nullptr, nullptr).
  void set_waker(void (*waker)(void*), void* arg) noexcept { waker_.set(waker, arg); }

  /// Calls the waker now (async-signal-safe): for a producer whose events the writer's thread
  /// must look for (kernel epochs end when it sees them finished).
  void wake_writer() noexcept { waker_(); }

  /// Names the track of the kernel epochs on `s` (`stream <name>`). Not from the handler.
  void name_stream(const stream_base* s, std::string_view name);
  /// The run has `n` devices: beyond one, the copy tracks are per device and name it. Call
  /// before anything is pushed.
  void set_devices(unsigned n) noexcept { devices_ = n; }
  /// The device model's first profile, whose schedule goes on tracks `modelled <profile>: ...`
  /// (events modelled_kernel and modelled_copy). Call before anything is pushed.
  void set_modelled_profile(std::string name) { modelled_profile_ = std::move(name); }
  /// The file's time 0 (CLOCK_MONOTONIC ns): modelled events are pushed at origin + modelled ns.
  [[nodiscard]] std::uint64_t origin_ns() const noexcept { return origin_ns_; }

  /// Writes the queued events. Thread-safe; the service thread calls it as it goes.
  void drain() noexcept;
  /// Drains, writes the metadata (the dropped count among it) and closes the file. Later pushes
  /// are dropped and drains do nothing. Idempotent.
  void finish() noexcept;

  [[nodiscard]] std::uint64_t dropped() const noexcept {
    return dropped_.load(std::memory_order_relaxed);
  }
  [[nodiscard]] const std::string& path() const noexcept { return path_; }

 private:
  // A track of the file, split into lanes of non-overlapping events.
  struct lane {
    std::uint32_t tid;
    std::uint64_t last_end_ns;
  };
  struct track {
    std::string name;
    std::vector<lane> lanes;
  };
  void write_event(const timeline_event& e);
  // Appends one trace event (an instant, or a slice from `start` to `end`) on lane `tid`.
  void append_event(std::string_view name, std::string_view args, std::uint32_t tid,
                    std::uint64_t start, std::uint64_t end, bool instant);
  // The tid of the lane of track `key` that the event [start, end] goes to; `name` names the
  // track if it is new (its first lane is `tid`, or a new synthetic one if 0).
  std::uint32_t lane_for(std::uint64_t key, std::string_view name, std::uint32_t tid,
                         std::uint64_t start, std::uint64_t end);
  std::uint32_t thread_lane(std::uint32_t tid, std::uint64_t start, std::uint64_t end);
  // The stream's track index and name; an unnamed stream is named by its index.
  std::pair<std::uint32_t, std::string>& stream_of(std::uint64_t identity);
  [[nodiscard]] std::string range_label(std::uint32_t id) const;
  void append_metadata_event(std::string_view what, std::uint32_t tid, std::string_view arg,
                             std::string_view value);
  void begin_event();
  void flush_buffer() noexcept;

  std::string path_;
  int fd_;
  pid_t owner_;
  std::uint64_t origin_ns_;
  bounded_queue<timeline_event, capacity> ring_;
  std::atomic<std::uint64_t> dropped_{0};
  std::atomic<std::size_t> pending_{0};
  waker waker_;

  std::mutex mutex_;  // all below
  bool open_ = true;
  bool io_failed_ = false;
  std::uint64_t written_ = 0;
  std::string buffer_;
  std::map<std::uint64_t, track> tracks_;
  std::uint32_t next_synthetic_tid_;
  unsigned devices_ = 1;
  std::string modelled_profile_;
  // Streams by identity: their track's index and name (named ones first, by name_stream).
  std::unordered_map<std::uint64_t, std::pair<std::uint32_t, std::string>> streams_;
  std::map<std::uint32_t, std::uint64_t> ranges_;  // id -> bytes, for labels and the metadata
};

}  // namespace uvm::detail
