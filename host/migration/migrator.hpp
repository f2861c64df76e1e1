#pragma once

// The migration engine: moves pages between the host and the frames of every device of the
// backend (and between devices), keeps each device's page tables and the app view's protections
// in step with the page states, and tracks kernels in flight on every device.
// It is the fault service thread's resolver, and the API's prefetch and eviction path.
//
// Ordering rules it keeps: a page's host access is narrowed before its data is copied to the
// device and widened only after data copied back has landed; a device page-table entry is
// written on the copy stream after the page's data; frames are never reclaimed while a kernel
// may use them (eviction only between kernels).

#include "host/backend/backend.hpp"
#include "host/coherence/managed_range.hpp"
#include "host/fault/service/fault_resolver.hpp"
#include "host/migration/device_page_table.hpp"
#include "host/migration/device_residency.hpp"
#include "host/migration/kernel_epochs.hpp"
#include "host/migration/late_registrations.hpp"
#include "host/migration/range_table.hpp"
#include "host/migration/transfer_pipeline.hpp"
#include "host/policy/eviction_policy.hpp"
#include "host/policy/prefetch_policy.hpp"
#include "host/policy/thrashing_detector.hpp"
#include "host/telemetry/counters.hpp"
#include "host/telemetry/timeline.hpp"
#include "host/telemetry/trace_writer.hpp"

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

namespace uvm::detail {

/// Where a stream operation was queued: on `stream`, with ticket `before` (kernel_epochs::issue).
/// A move to the host queued there waits only for the kernels placed earlier on other streams.
struct queue_position {
  const stream_base* stream = nullptr;
  kernel_epochs::ticket before = kernel_epochs::no_ticket;
};

class migrator final : public fault_resolver {
 public:
  struct settings {
    std::size_t page_size;
    std::size_t budget_bytes;          ///< device memory for frames
    std::chrono::nanoseconds timeout;  ///< longest wait for a copy or a kernel
    std::string_view eviction = "dueling";
    std::string_view prefetch = "none";
    unsigned thrashing_migrations = 3;  ///< 0: no thrashing detection
    std::chrono::nanoseconds thrashing_lapse = std::chrono::microseconds(500);
    /// A CPU read fault on a device page leaves a read-only duplicate (`shared`): the device
    /// copy stays valid until the CPU writes the page, so a kernel that only reads it again
    /// needs no copy. Worth it where a read-only host page costs no mapping (userfaultfd); under
    /// signals it would split the app view, so only `read_mostly` pages duplicate there.
    bool read_duplicates = false;
    /// Remote pages used in three epochs in a row move into frames between kernels.
    bool promote_remote = false;
    /// The application's policies (uvm::config::custom_*), used instead of the named ones.
    std::function<std::unique_ptr<eviction_policy>()> custom_eviction;
    std::function<std::unique_ptr<prefetch_policy>()> custom_prefetch;
    /// Where migrations, kernel epochs, thrashing, pins and remote mappings go (null: nowhere);
    /// it outlives the migrator.
    timeline* run_timeline = nullptr;
    /// Told of faults, moves and kernels (null: no device model); it outlives the migrator.
    device_model* model = nullptr;
    /// Page-table entries in each arena of the table pool (the first one is made at start).
    std::size_t table_entries = table_pool::default_entries;
  };

  /// @throws uvm::out_of_memory if the frames cannot be allocated.
  migrator(backend& b, counters& c, const settings& s);
  ~migrator() override;
  migrator(const migrator&) = delete;
  migrator& operator=(const migrator&) = delete;

  /// Where device `d`'s code posts faults: the device's address of its ring in the service,
  /// and the ring's control words in `d`'s memory. Set for every device before attach.
  void set_mailbox(fault_mailbox* device_address, mailbox_control* control,
                   device_id d = 0) noexcept {
    rings_.at(d) = {device_address, control};
  }
  /// Records the pages kernels use into `t` (null: none), at each epoch's end.
  void set_trace(trace_writer* t) noexcept { trace_ = t; }

  /// Gives `r` an id and a device page table, and tells it how device code reaches it.
  /// Allocates and registers nothing while a kernel is in flight (CUDA may order both after
  /// the kernels in flight, and a kernel waiting on a fault would never end): the table comes
  /// from the table pool, and the range's host memory is registered now only if no kernel is in
  /// flight, else by the service once every kernel that may run is held behind a gate
  /// (late_registrations). Until then its pages move by pageable copies and are never mapped
  /// remote.
  /// @throws uvm::timeout if the table pool is full and kernels still run after the timeout
  /// (it grows only while none runs); as backend::allocate_device and register_host.
  void attach(managed_range& r);
  /// Releases `r`'s frames and page table. No kernel may be using it. While kernels are in
  /// flight its table entries, and its runtime view if registered (which then outlives `r`),
  /// wait in the graveyard: nothing is freed or unregistered until none is.
  void detach(managed_range& r) noexcept;

  /// The stream kernels run on when the caller names none (device 0's).
  [[nodiscard]] const stream& default_stream() const noexcept { return compute_; }
  /// The devices it manages: every device of the backend, each with its frames and tables.
  [[nodiscard]] device_id devices() const noexcept { return devices_; }

  /// Marks a kernel launch on `s`: call before enqueueing it, then end_launch with its event.
  /// With `declared`, the kernel touches only the pages in `uses` (CPU faults elsewhere do not
  /// wait for it); otherwise any page its stream may use. Waits first while CPU faults or queued
  /// moves wait for kernels that this one may delay, so a stream of launches cannot starve them.
  /// @throws uvm::timeout if they are not served within the timeout.
  kernel_epochs::ticket begin_launch(const stream& s, std::span<const page_use> uses,
                                     bool declared);
  void end_launch(kernel_epochs::ticket t, event e);
  /// The stream issue lock `issue`, for a launch or stream operation on `s` that arrived as `t`
  /// (its ticket, or next_ticket() before it is issued); while a range allocated during kernels
  /// waits for its registration, `s`'s next work is held behind a gate (late_registrations).
  /// Enqueue the kernel or operation under it.
  [[nodiscard]] std::unique_lock<std::mutex> lock_issue(std::mutex& issue, const stream& s,
                                                        kernel_epochs::ticket t) {
    return late_.lock_holding(issue, s, t);
  }
  /// Waits until no kernel is in flight, those launched meanwhile included. @return false if
  /// some were still running at `timeout`.
  bool wait_kernels(std::chrono::nanoseconds timeout);
  /// Waits for the kernels launched before the call, not for those launched meanwhile (what a
  /// device-wide synchronize waits for). @return false if some still ran at `timeout`.
  /// The service's batches for them are complete too (their counters included), and the
  /// epochs that ended are harvested.
  bool wait_launched(std::chrono::nanoseconds timeout);
  /// Waits until the attachments asked for so far are in effect (a device-wide synchronize
  /// waits for them, stream-ordered as they are). @return false if not by `timeout`.
  bool wait_attachments(std::chrono::nanoseconds timeout) noexcept {
    return epochs_.wait_attachments(timeout);
  }
  /// Waits for the kernels in flight now that may use a page of `r`, not for those launched
  /// meanwhile (what a free waits for: a later launch cannot have been given the memory).
  /// @return false if they still ran at `timeout`.
  bool wait_users(const managed_range& r, std::chrono::nanoseconds timeout) {
    return epochs_.wait_users(whole(r), timeout);
  }

  /// Attaches `r` as `k` (to `s` for `single`) once `effective` completes (null: now), as
  /// cudaStreamAttachMemAsync. @throws std::bad_alloc
  void attach_stream(const managed_range& r, attach_kind k, const stream& s, event effective) {
    epochs_.attach(r.device().range_id, k, s, std::move(effective));
  }
  /// The latest attachment asked for `r`.
  [[nodiscard]] attach_kind attachment(const managed_range& r) {
    return epochs_.attachment(r.device().range_id);
  }

  /// For a stream operation queued on `s` (under the stream issue lock) that will move `uses`
  /// to the host or drop them (none: a move to the device): until finish_operation(), launches on
  /// other streams that may use them wait, so that the operation waits at most for the kernels
  /// placed before it (kernel_epochs::issue). @throws std::bad_alloc
  [[nodiscard]] queue_position issue(std::span<const page_use> uses, const stream& s,
                                     bool gated = false) {
    return {s.get(), epochs_.issue(uses, s, gated)};
  }
  /// The ticket the next launch or stream operation will draw (a launch has arrived once it
  /// grew).
  [[nodiscard]] kernel_epochs::ticket next_ticket() { return epochs_.next(); }
  /// Retires the kernels that have finished (their epochs, the accessed bits they set).
  void retire_kernels() {
    const std::lock_guard lock(mutex_);
    (void)kernels_in_flight();
  }
  /// Whether a kernel that an operation queued at `at` must wait for may use `u`.
  [[nodiscard]] bool in_use(const page_use& u, const queue_position& at) {
    return epochs_.in_use(u, at.before, at.stream);
  }
  /// If no kernel that the operation queued at `at` must wait for may use `uses`, keeps every
  /// such kernel from starting until finish_operation(at) and returns true (kernel_epochs::claim).
  [[nodiscard]] bool claim(std::span<const page_use> uses, const queue_position& at) noexcept {
    return epochs_.claim(at.before, uses, at.stream);
  }
  /// The migrator's id of `r`, as page_use names it.
  [[nodiscard]] static page_use pages_of(const managed_range& r, std::size_t first,
                                         std::size_t count) noexcept {
    return {r.device().range_id, first, count};
  }
  /// The operation queued at `at` is finished: call once, before opening its gate.
  void finish_operation(const queue_position& at) noexcept { epochs_.finish_operation(at.before); }

  /// The last chunk of a prefetch whose copies were left in flight (prefetch's `in_flight`): its
  /// pages stay busy until finish_in_flight, which the caller calls once `done` has completed,
  /// running other operations meanwhile.
  struct in_flight_move {
    std::uint64_t id = 0;  ///< 0: nothing was left in flight
    event done;            ///< completes once its copies and entries have landed
  };

  /// Moves pages [first, first + count) of `r` to device `device` (as many as frames allow,
  /// evicting the oldest pages between its kernels; from another device directly) or back to the
  /// host, in pipelined chunks. With `in_flight`, the last chunk's copies are not waited for:
  /// it is kept, and named there, for finish_in_flight.
  /// A move to the host first waits for the kernels that may use the pages (those placed before
  /// `at`, on other streams than `at`'s: its own stream's earlier work has finished).
  /// @return the number of pages moved.
  /// @throws uvm::timeout if those kernels still run after the timeout (nothing moved).
  std::size_t prefetch(managed_range& r, std::size_t first, std::size_t count, bool to_device,
                       const queue_position& at = {}, device_id device = 0,
                       in_flight_move* in_flight = nullptr);
  /// Finishes the move prefetch left in flight as `m`: waits for its copies (the timeout at
  /// most: a chunk that outlives it is finished once they land), then publishes its pages. Call
  /// once per move, before finish_operation of its operation.
  void finish_in_flight(const in_flight_move& m) noexcept;

  /// Drops the contents of pages [first, first + count) of `r` wherever they are, without a
  /// copy: device frames are freed, host pages released; the pages are unpopulated again (they
  /// read as zeros). Waits first, as a move to the host does, for the kernels that may use them.
  /// @return the number of pages that held data.
  /// @throws uvm::invalid_argument if a page is pinned (pin_resident), uvm::timeout as prefetch.
  std::size_t discard(managed_range& r, std::size_t first, std::size_t count,
                      const queue_position& at = {});

  /// Makes pages [first, first + count) of `r` resident at `to` and keeps them there: on the
  /// host, populated and writable (no CPU fault), device accesses mapped remote; on device
  /// `device` (with `to_device`), in frames eviction never takes. The caller locks host memory.
  /// @throws uvm::out_of_memory if the device budget cannot hold them (nothing stays pinned).
  void pin(managed_range& r, std::size_t first, std::size_t count, bool to_device,
           device_id device = 0);
  /// Ends a pin; the pages become ordinary residents where they are.
  void unpin(managed_range& r, std::size_t first, std::size_t count);

  /// Launch residency, for a kernel that is not instrumented and takes a raw pointer: puts pages
  /// [first, first + count) of `r` in frames F .. F + count - 1 of device `device`, in order, so
  /// that one pointer is valid for the whole span. With `write` the pages become device_exclusive
  /// and their entries dirty (the raw kernel sets no dirty bit; the host gets every page back);
  /// otherwise they become read duplicates (`shared`: the host keeps reading, nothing comes
  /// back). Call between kernels, before begin_launch: it first waits (up to the timeout) until
  /// no kernel is in flight. Picks the window with the most pages already in place, then the
  /// most free frames; evicts the other occupants; pages elsewhere go through the host. Frames
  /// that hold pages placed by earlier calls since the last begin_launch (the other spans of the
  /// same launch) are never taken, nor are frames of device-pinned pages.
  /// @code
  /// std::byte* x = m.make_resident(r, 0, r.page_count(), true);
  /// m.begin_launch();
  /// raw_kernel<<<...>>>(x);  // x + i * page_size is page i
  /// m.end_launch(backend.record(s));
  /// @endcode
  /// @return the device address of page `first` (frames are contiguous device memory).
  /// @throws uvm::invalid_argument for an empty span, a span outside `r`, or a page pinned to the
  /// host. @throws uvm::out_of_memory if the span needs more frames than the pool has, or no
  /// window of `count` frames is free of pinned (or already declared) pages; nothing changed.
  /// @throws uvm::timeout if kernels still run after the timeout. On any throw the spans
  /// declared since the last begin_launch are forgotten (the launch is off); no data is lost.
  [[nodiscard]] std::byte* make_resident(managed_range& r, std::size_t first, std::size_t count,
                                         bool write, device_id device = 0);
  /// Forgets the spans made resident since the last begin_launch, for a caller that gives up the
  /// launch: their frames may be evicted again by later make_resident calls.
  void forget_declared() noexcept;

 private:
  using move = transfer_pipeline::move;
  using drop = transfer_pipeline::drop;
  using chunk = transfer_pipeline::chunk;
  using cause_scope = transfer_pipeline::cause_scope;
  // Where launch residency puts a page: in `frame`, exclusive and dirty, or read-duplicated.
  struct placement {
    std::uint32_t frame;
    bool write;
  };
  // A span placed by make_resident for the launch being prepared.
  struct declared_span {
    std::uint32_t range_id;
    std::size_t first;
    std::size_t count;
  };
  // What landed moves mean here: frames and the eviction policy, thrashing.
  class page_settler final : public transfer_pipeline::settler {
   public:
    explicit page_settler(migrator& m) noexcept : m_(m) {}

   private:
    void do_landed(std::span<const move> moves) override;
    void do_dropped(std::span<const drop> drops) noexcept override;
    void do_untaken(device_id d, std::uint32_t f) noexcept override { m_.residency(d).untake(f); }
    migrator& m_;
  };

  [[nodiscard]] static page_use whole(const managed_range& r) noexcept {
    return {r.device().range_id, 0, r.page_count()};
  }
  int do_resolve(managed_range& r, std::size_t page, access a) noexcept override;
  int do_try_resolve(managed_range& r, std::size_t page, access a) noexcept override;
  // A CPU fault's move to the host, mutex_ held; `defer`: a page that a kernel in flight may
  // use is noted so that launches wait for its fault (the service's retries).
  int resolve_to_host(managed_range& r, std::size_t page, access a, bool defer) noexcept;
  void do_resolve_device(std::span<const fault_record> batch) noexcept override;
  bool do_poll() noexcept override;
  void do_cpu_faults_waiting(bool waiting) noexcept override;

  // All below: mutex_ held.
  bool kernels_in_flight();
  // Waits, unlocking meanwhile, until no kernel is in flight. @throws uvm::timeout naming `call`.
  void wait_until_no_kernels(std::unique_lock<std::mutex>& lock, std::string_view call);
  // Waits, unlocking meanwhile, until no kernel that may use `u` (placed before `at`, not on its
  // stream) is in flight. @throws uvm::timeout naming `call`.
  void wait_until_unused(std::unique_lock<std::mutex>& lock, const page_use& u,
                         const queue_position& at, std::string_view call);
  managed_range* range_of(std::uint32_t id) const noexcept;
  // The host's shadow of device `d`'s entry: never a read of the device (device bits as of the
  // last refresh_device_bits).
  [[nodiscard]] device_pte read_pte(const managed_range& r, std::size_t page,
                                    device_id d = 0) const noexcept;
  [[nodiscard]] device_page_table& table_of(const managed_range& r, device_id d = 0) const noexcept;
  // Devices advised to access a page keep it mapped where a move put it: a peer mapping of the
  // new owner's frame, published once the move has landed.
  void map_accessing_devices(const transfer_pipeline::move& mv);
  // Which devices map a page (bit d for device d): `frames`, those whose own frame holds it;
  // `mapped`, every valid entry (frames, remote and peer mappings); `owner`, the device whose
  // frame holds its only writable copy, if one does.
  struct holders {
    std::uint32_t frames = 0;
    std::uint32_t mapped = 0;
    std::optional<device_id> owner;
  };
  [[nodiscard]] holders holders_of(const managed_range& r, std::size_t page) const noexcept;
  // Plans dropping the valid entries of `page` on the devices in `mask` with the move of the
  // page (claimed) in `c`; c.drops has room (reserve_drops).
  void drop_entries(managed_range& r, std::size_t page, std::uint32_t mask, chunk& c) noexcept;
  void reserve_drops(chunk& c) { c.drops.reserve(c.drops.size() + devices_); }
  // Reads the device-set dirty and accessed bits of every table into the shadows, once per
  // epoch and only while no kernel that may use the range runs (a no-op otherwise, or when
  // nothing changed).
  void refresh_device_bits();
  void refresh_device_bits(managed_range& r);
  // Device faults on pages that no kernel in flight may use: their entries say so (pte_denied),
  // and the waiting lanes report the error instead of waiting. Cleared before the next launch.
  void deny(managed_range& r, std::size_t page, device_id d);
  void clear_denied();
  // Attachment for pages already mapped on the device: before a kernel starts, the tables of
  // ranges that no admitted kernel may use are masked (every access is a device error, whatever
  // the page's state) and those that one may use are unmasked; the entries land before the
  // kernel is enqueued.
  void mask_restricted_ranges();
  // Claim a page and plan its move into `c`; nothing changes until the pipeline enqueues it.
  // With `at`
  // (launch residency), the page goes to that frame, whatever pins and advice say; with
  // `duplicate`, a device copy stays as a read duplicate (as read_mostly pages do).
  // Into device `d`. The chunk's device must be `d`.
  bool start_to_device(managed_range& r, std::size_t page, device_id d, bool write,
                       bool allow_remote, chunk& c, const placement* at = nullptr);
  // The chunk's device must be the one whose frame holds the page's data (data_device()).
  bool start_to_host(managed_range& r, std::size_t page, bool write, chunk& c,
                     bool duplicate = false);
  // The device whose frame holds data of `page` that the host lacks (the owner of a
  // device_exclusive page), or 0.
  [[nodiscard]] device_id data_device(managed_range& r, std::size_t page) const noexcept;
  // Plans dropping the page's contents (discard): no copy, target unpopulated.
  bool start_discard(managed_range& r, std::size_t page, chunk& c);
  // The first frame of the window make_resident fills on device `d`. @throws
  // uvm::out_of_memory if none.
  std::uint32_t pick_window(managed_range& r, std::size_t first, std::size_t count, device_id d);
  // make_resident once no kernel runs: clears the window, moves the pages in, checks them.
  std::byte* place(managed_range& r, std::size_t first, std::size_t count, bool write, device_id d);
  // Adds the pages the prefetch policy moves along with a device fault on `page` (device `d`).
  void expand_fault(managed_range& r, std::size_t page, device_id d, chunk& c);
  // Serves the device faults of `batch` that device `d` posted.
  void resolve_on(device_id d, std::span<const fault_record> batch, std::vector<chunk>& chunks,
                  std::size_t& served, bool& republished, std::uint64_t start);
  // Between kernels (none in flight): moves the remote pages found hot by the harvest into
  // frames, free ones or those of victims unused in the last epoch (host/migration/promotion.cpp).
  void promote_remote();
  void promote_remote(device_id d);  // device d's hot pages; none in flight
  // Tells the eviction policy which resident pages kernels used (and, while tracing, records
  // every page they used in the trace), then clears the bits.
  void harvest_accessed();
  void harvest_accessed(device_id d);  // device d's tables
  // Waits (up to the timeout) for the entries enqueued on every device's h2d stream so far.
  // @return false on a timeout or a failed record or wait (logged).
  bool entries_landed() noexcept;
  // An instant on the timeline (null timeline: nothing).
  void record_instant(timeline_kind kind, std::uint32_t range_id, std::size_t page,
                      std::size_t count = 0, std::uint8_t detail = 0, std::uint8_t flags = 0,
                      device_id device = 0) noexcept;
  // The stream whose queued move runs now (mutex_ held; null: none, or not stream-ordered).
  class moving_scope {
   public:
    moving_scope(migrator& m, const stream_base* on) noexcept : m_(m), saved_(m.moving_on_) {
      m.moving_on_ = on;
    }
    ~moving_scope() { m_.moving_on_ = saved_; }
    moving_scope(const moving_scope&) = delete;
    moving_scope& operator=(const moving_scope&) = delete;

   private:
    migrator& m_;
    const stream_base* saved_;
  };
  // A chunk prefetch left with its copies in flight.
  struct in_flight_chunk {
    std::uint64_t id;       // in_flight_move::id
    const stream_base* on;  // the stream of its operation (moving_scope when it completes)
    chunk moves;            // empty once completed
  };
  // Completes the chunks left in flight that move pages of `pages` (all of them if null),
  // waiting for their copies: for a caller that holds the lock and needs those pages idle, which
  // only completing them makes them. Their entries stay for finish_in_flight.
  void settle_in_flight(const page_use* pages = nullptr) noexcept;
  void complete_in_flight(in_flight_chunk& f) noexcept;  // mutex_ held
  // Evicts up to `frames` of device `d`'s eviction policy's victims; with `unused_only`, stops at
  // the first victim a kernel used in the last epoch. @return the frames freed.
  std::size_t evict(device_id d, std::size_t frames, bool unused_only = false);
  // Frames freed now: the ticket they wait for, kernel_epochs::no_ticket when no kernel may
  // have started besides those of moving_on_'s stream (they are free at once). Asked once per
  // batch of frees.
  // With `pages`, for frames of those pages only: kernels that may not use them do not count.
  [[nodiscard]] kernel_epochs::ticket free_fence(device_id d,
                                                 const page_use* pages = nullptr) noexcept;
  // A frame of device `d` for `p`: the lowest free one, else one whose quarantine has ended.
  [[nodiscard]] std::optional<std::uint32_t> take_frame(device_id d, page_ref p) {
    return residency(d).take(p, [this, d] { return epochs_.oldest_running(d); });
  }
  [[nodiscard]] device_residency& residency(device_id d) const noexcept { return *residencies_[d]; }
  // Whether pin_resident holds `p` (on the host or a device).
  [[nodiscard]] bool pin_held(page_ref p) const noexcept { return pins_.contains(p); }
  // Registers the ranges allocated while kernels ran once none can run, and empties the
  // graveyard once no kernel is in flight.
  void bury();

  backend& backend_;
  counters& counters_;
  settings settings_;
  unsigned page_shift_;
  std::byte* zero_ = nullptr;  // host zeros, source of first-touch pages on the device
  std::size_t zero_bytes_ = 0;
  device_id devices_;  // every device of the backend
  // By device: its frames, eviction and promotion state.
  std::vector<std::unique_ptr<device_residency>> residencies_;
  // pin_resident's count per page (pins overlap: a page stays pinned until every pin ends), and
  // the device a device pin keeps it on (unranked there until the last pin ends).
  struct pin_count {
    std::uint32_t count = 0;
    std::optional<device_id> device;
  };
  std::unordered_map<page_ref, pin_count, page_ref_hash> pins_;
  std::unique_ptr<prefetch_policy> prefetch_;
  thrashing_detector thrashing_;
  std::unordered_set<page_ref, page_ref_hash> pinned_;  // thrashing pages kept on the host
  [[nodiscard]] bool pinned(page_ref p);
  stream compute_;
  kernel_epochs epochs_;  // kernels in flight, and fairness with CPU faults (its own lock)
  struct ring {
    fault_mailbox* mailbox = nullptr;
    mailbox_control* control = nullptr;
  };
  std::array<ring, max_devices> rings_{};  // by device
  trace_writer* trace_ = nullptr;
  timeline* timeline_ = nullptr;
  const stream_base* moving_on_ = nullptr;          // see moving_scope
  static constexpr std::size_t promote_share = 16;  // at most 1/16 of the frames per boundary
  // How long a launch waits, while tracing, for the kernels in flight to end.
  static constexpr std::chrono::seconds trace_epoch_wait{1};

  std::mutex mutex_;
  range_table ranges_;       // live ranges, their page tables and registrations, the graveyard
  late_registrations late_;  // holds launches while ranges wait for registration
  page_settler settler_{*this};
  transfer_pipeline pipe_;  // the copies: plan, narrow, copy, publish, complete or undo
  // Chunks prefetch left with their copies in flight (destroyed, so undone, before pipe_).
  std::list<in_flight_chunk> in_flight_;
  std::uint64_t next_in_flight_ = 1;
  bool gates_ = false;       // the backend has gates to hold launches with
  bool host_clock_ = false;  // device fault records carry host times (stats queued stage)
  struct denial {
    page_ref page;
    device_id device;
  };
  std::vector<denial> denied_;                               // entries published with pte_denied
  std::vector<kernel_epochs::restricted_range> restricted_;  // mask_restricted_ranges' scratch
  std::vector<page_use> cpu_waiting_;       // CPU faults of the current batch waiting for kernels
  std::vector<declared_span> declared_;     // made resident since the last begin_launch
  std::vector<fault_record> device_retry_;  // device faults on busy pages, retried by poll
  // While kernels run, pages mapped remote stay remote: a kernel may be storing through that
  // mapping, and a copy into a frame would miss its later stores. Set per operation.
  bool kernels_running_ = false;
  static constexpr int pin_attempts = 8;  // prefetches before pin gives up on moving pages
};

}  // namespace uvm::detail
