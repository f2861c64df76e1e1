#pragma once

// The transfer pipeline: takes page moves that the migrator planned (pages claimed, frames
// taken) and carries them out in chunks. For each chunk, in order:
//   1. narrow: host access is narrowed first, so no CPU store races the copies that read pages;
//   2. copy: the data, coalesced (neighbouring pages in neighbouring frames move in one copy),
//      on the copy stream of its direction;
//   3. entries: the device page-table entries, after the data on the same stream;
//   4. complete: once the copies landed, host access is widened, the settler is told (frames,
//      eviction policy, thrashing), and the pages are published in their new state.
// A chunk whose copies outlive the timeout stays claimed and is finished by poll() once they
// land; a chunk destroyed with moves left (an exception unwound past it) undoes them: every
// page ends in its old state, never busy. Chunks are pipelined: chunk k's copies are queued
// before chunk k-1 is waited on, so the copy engine stays busy while the next one is planned.
//
// Not synchronised: its owner serialises every call (the migrator's lock).

#include "host/backend/backend.hpp"
#include "host/coherence/managed_range.hpp"
#include "host/migration/range_table.hpp"
#include "host/model/device_model.hpp"
#include "host/telemetry/counters.hpp"
#include "host/telemetry/timeline.hpp"

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <utility>
#include <vector>

namespace uvm::detail {

class transfer_pipeline {
 public:
  /// One page's move, as the migrator plans it.
  struct move {
    managed_range* range;
    std::size_t page;
    page_state from;
    page_state target;
    device_pte pte = 0;                  ///< the entry to publish
    device_pte old_pte = 0;              ///< the entry before, restored if the move is undone
    std::optional<std::uint32_t> taken;  ///< frame taken for the page
    std::optional<std::uint32_t> freed;  ///< frame to return once the copy completed
    std::byte* dst = nullptr;            ///< the page's copy, if its data moves
    const std::byte* src = nullptr;
    bool widen_after = false;  ///< host access changes after the copy, not before
    page_word clear = 0;       ///< flag bits to clear when publishing
    device_id device = 0;      ///< whose page table `pte` goes to, and whose frames these are
    bool from_peer = false;    ///< `src` is another device's frame: a device-to-device copy
    device_id source = 0;      ///< that device
  };

  /// Another device's entry for a moved page, which must go before the move's copies (a
  /// read-only duplicate, a remote or peer mapping, or the frame a device-to-device move reads):
  /// invalidated on that device before the chunk's copies are enqueued; its frame, if any,
  /// returned once the chunk completes. Restored if the move is undone.
  struct drop {
    managed_range* range;
    std::size_t page;
    device_id device;
    device_pte old_pte;
    std::optional<std::uint32_t> freed;  ///< the frame it held on `device`
  };

  /// What moves mean to the rest of the migrator: told, under the owner's lock, what landed and
  /// which frames were taken for moves that never happened.
  class settler {
   public:
    /// `moves` landed (host access widened); their pages are published right after.
    void landed(std::span<const move> moves) { do_landed(moves); }
    /// The entries `drops` invalidated are gone for good (their moves landed).
    void dropped(std::span<const drop> drops) noexcept { do_dropped(drops); }
    /// Frame `f` of device `d` was taken for a move that was cancelled or undone: nothing
    /// reached it.
    void untaken(device_id d, std::uint32_t f) noexcept { do_untaken(d, f); }

   protected:
    ~settler() = default;

   private:
    virtual void do_landed(std::span<const move> moves) = 0;
    virtual void do_dropped(std::span<const drop> drops) noexcept = 0;
    virtual void do_untaken(device_id d, std::uint32_t f) noexcept = 0;
  };

  class chunk;

  struct settings {
    std::size_t page_size;
    std::chrono::nanoseconds timeout;  ///< longest wait for a chunk's copies
    timeline* run_timeline = nullptr;  ///< where migrations go (null: nowhere)
    device_model* model = nullptr;     ///< told of every page whose data moves (null: none)
  };

  /// Creates the copy streams of each device that `ranges` has tables on. `ranges` gives each
  /// move's page table; all outlive the pipeline.
  transfer_pipeline(backend& b, counters& c, range_table& ranges, settler& s, const settings& set);
  transfer_pipeline(const transfer_pipeline&) = delete;
  transfer_pipeline& operator=(const transfer_pipeline&) = delete;

  /// The copy streams of device `d`, one per direction; entries of `d`'s tables published
  /// outside a chunk go on h2d(d).
  [[nodiscard]] const stream& h2d(device_id d = 0) const noexcept { return streams_[d].h2d; }
  [[nodiscard]] const stream& d2h(device_id d = 0) const noexcept { return streams_[d].d2h; }

  /// Narrows host access, enqueues the coalesced copies and the page-table entries on the
  /// stream of `kind` of the chunk's device, records the chunk's event. Moves whose narrowing fails
  /// are cancelled (their pages stay where they were). @throws what the backend throws (the chunk
  /// then undoes its moves when destroyed).
  void enqueue(chunk& c, copy_kind kind);
  /// Waits for the chunk (polling a small one first), widens host access, tells the settler,
  /// publishes the pages. A chunk whose copies have not landed by the timeout is kept and
  /// finished by a later poll().
  /// `landed_ns`, if given, gets when the copies were seen landed (left alone if the chunk was
  /// empty or kept).
  /// @return 0, ETIMEDOUT for a kept chunk, or the errno of a widening that failed even
  /// coarsened (those pages were undone).
  int complete(chunk& c, std::uint64_t* landed_ns = nullptr);
  /// Finishes the kept chunks whose copies have landed since.
  void poll();

  /// Moves items [0, n) in chunks of about chunk_bytes of pages, on the streams of `device`:
  /// before(i, end) runs before items [i, end) are planned, plan(i, c) plans item i into c and
  /// says whether it moves. With `in_flight` (an empty chunk of this pipeline), the last chunk
  /// is left there once enqueued, its copies in flight, for the caller to complete(); otherwise
  /// every chunk is completed before it returns.
  /// @return the items that moved.
  template <class Before, class Plan>
  std::size_t run(std::size_t n, copy_kind kind, device_id device, Before&& before, Plan&& plan,
                  chunk* in_flight = nullptr);

  /// What the chunks enqueued meanwhile are for, on the timeline.
  class cause_scope {
   public:
    cause_scope(transfer_pipeline& p, migration_cause c) noexcept : p_(p), saved_(p.cause_) {
      p.cause_ = c;
    }
    ~cause_scope() { p_.cause_ = saved_; }
    cause_scope(const cause_scope&) = delete;
    cause_scope& operator=(const cause_scope&) = delete;

   private:
    transfer_pipeline& p_;
    migration_cause saved_;
  };

  // Pipelining granularity: small enough that preparing chunk k+1 (claims, one mprotect)
  // overlaps copying chunk k, large enough that per-chunk costs stay small.
  static constexpr std::size_t chunk_bytes = std::size_t{32} << 20;

 private:
  friend class chunk;
  // The rest of complete, once the chunk's event has completed.
  int finish(chunk& c);
  // For a chunk left incomplete by a failure: waits for what was enqueued, completes the moves
  // whose entries were enqueued (a kernel may already use them), and undoes the others:
  // restores their entries, host access and frames, and publishes them in their old state.
  void abandon(chunk& c) noexcept;
  // Invalidates the chunk's drops on their devices and waits until they have landed.
  // @throws uvm::timeout if they do not land within the timeout; what the backend throws.
  void invalidate(chunk& c);
  // Restores the entries of `drops` (old_pte) on their devices and waits for them (logged on
  // failure).
  void restore(std::span<const drop> drops) noexcept;
  // Moves the drops of the pages of `moves` from `from` to `to`.
  static void take_drops(std::vector<drop>& from, std::vector<drop>& to,
                         std::span<const move> moves);
  // Enqueues the entries of moves [first, last) (in page order) on `s`, one copy per run of
  // neighbouring pages; `published`, if given, counts the moves whose entry is enqueued.
  void publish_entries(const std::vector<move>& moves, std::size_t first, std::size_t last,
                       const stream& s, std::size_t* published);
  // Puts the chunk's migration on the timeline, from its issue to now.
  void record_migration(const chunk& c) noexcept;
  // Tells the device model which pages of the chunk move their data (settings::model).
  void charge_model(const chunk& c, copy_kind kind);

  backend& backend_;
  counters& counters_;
  range_table& ranges_;
  settler& settler_;
  // complete() polls a chunk of up to poll_bytes this many times before it sleeps: the pages of
  // a fault batch, never a prefetch's chunks (chunk_bytes).
  static constexpr std::size_t poll_bytes = std::size_t{256} << 10;
  static constexpr int poll_turns = 20;

  settings settings_;
  struct copy_streams {
    stream h2d, d2h;
  };
  std::vector<copy_streams> streams_;  // by device
  migration_cause cause_ = migration_cause::cpu_fault;
  std::vector<chunk> stalled_;  // copies not landed within the timeout (destroyed first)
};

/// Moves planned together. Destroyed with moves left, it undoes them.
class transfer_pipeline::chunk {
 public:
  enum class stage : std::uint8_t { planned, narrowed, issued };
  explicit chunk(transfer_pipeline* p = nullptr) noexcept : owner(p) {}
  chunk(chunk&& o) noexcept
      : owner(o.owner),
        moves(std::move(o.moves)),
        drops(std::move(o.drops)),
        done(std::move(o.done)),
        on(o.on),
        st(o.st),
        entries(o.entries),
        issued(o.issued),
        device(o.device) {
    o.reset();
  }
  chunk& operator=(chunk&& o) noexcept {
    if (this != &o) {
      if (owner != nullptr) owner->abandon(*this);
      owner = o.owner;
      moves = std::move(o.moves);
      o.moves.clear();
      drops = std::move(o.drops);
      o.drops.clear();
      done = std::move(o.done);
      on = o.on;
      st = o.st;
      entries = o.entries;
      issued = o.issued;
      device = o.device;
      o.reset();
    }
    return *this;
  }
  chunk(const chunk&) = delete;
  chunk& operator=(const chunk&) = delete;
  ~chunk() {
    if (owner != nullptr) owner->abandon(*this);
  }
  /// Room for one more move, so that nothing throws once its page is claimed.
  void reserve_one() {
    if (moves.size() == moves.capacity()) {
      moves.reserve(std::max<std::size_t>(16, 2 * moves.capacity()));
    }
  }
  /// Empty again, for the next moves (the vector keeps its capacity: no allocation per chunk).
  void reset() noexcept {
    moves.clear();
    drops.clear();
    done = nullptr;
    on = nullptr;
    st = stage::planned;
    entries = 0;
    issued = {};
  }
  void swap(chunk& o) noexcept {
    std::swap(moves, o.moves);
    std::swap(drops, o.drops);
    std::swap(done, o.done);
    std::swap(on, o.on);
    std::swap(st, o.st);
    std::swap(entries, o.entries);
    std::swap(issued, o.issued);
    std::swap(device, o.device);
  }

  transfer_pipeline* owner;
  std::vector<move> moves;
  std::vector<drop> drops;  ///< other devices' entries of its moves' pages
  event done;
  const stream* on = nullptr;  ///< where its copies and entries were enqueued
  stage st = stage::planned;
  std::size_t entries = 0;  ///< moves whose data and entry are enqueued (kernels may use them)
  timeline_event issued;    ///< for the timeline: set when the copies are enqueued
  device_id device = 0;     ///< the device whose copy streams it uses (kept by reset())
};

template <class Before, class Plan>
std::size_t transfer_pipeline::run(std::size_t n, copy_kind kind, device_id device, Before&& before,
                                   Plan&& plan, chunk* in_flight) {
  const std::size_t per_chunk = std::max<std::size_t>(1, chunk_bytes / settings_.page_size);
  std::size_t moved = 0;
  chunk previous(this);
  chunk current(this);
  previous.device = device;
  current.device = device;
  for (std::size_t i = 0; i < n;) {
    const std::size_t end = std::min(n, i + per_chunk);
    before(i, end);
    for (; i < end; ++i) moved += plan(i, current) ? 1 : 0;
    enqueue(current, kind);
    (void)complete(previous);  // empties it, keeping its capacity
    previous.swap(current);
  }
  if (in_flight != nullptr) {
    in_flight->swap(previous);
  } else {
    (void)complete(previous);
  }
  return moved;
}

}  // namespace uvm::detail
