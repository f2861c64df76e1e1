#pragma once

// The device model of a manager (uvm/device_model.hpp; docs/device-model.md): told of each event
// the runtime counts, it charges the profile's cost on its clocks (model_clock).
//
// Stream work is charged in stream order: the host announces a kernel (by its epoch's ticket)
// or a stream-ordered move when it enqueues it, at the host's modelled time, and the work is
// charged once it is done and everything before it on its stream has been. A kernel is charged
// what it reached through device views (access_tally, counted by its workers), and the device
// faults and the copies they made on its device since the device's last kernel was charged: with
// one kernel at a time on a device, exactly its own. A move is charged its copies. CPU faults
// are charged on the host's clock.
//
// Thread-safe (one lock). Deterministic: what it reports depends on counted events only.

#include "host/model/kernel_cost.hpp"
#include "host/model/model_clock.hpp"
#include "host/telemetry/timeline.hpp"

#include <uvm/detail/access_meter.hpp>
#include <uvm/device_model.hpp>
#include <uvm/stats.hpp>

#include <atomic>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <span>
#include <unordered_map>
#include <unordered_set>
#include <vector>

namespace uvm::detail {

/// What the workers of one kernel (or launch scope) reached: added to by each worker as it ends
/// its share, read once the kernel is done. Lines of host pages and of peers' frames count once
/// per kernel however many workers reached them, and at least as many as their bytes fill: a
/// GPU's warps coalesce neighbouring lanes' accesses and its L2 keeps a line from crossing the
/// link twice in a row (docs/device-model.md, "Remote accesses").
class access_tally {
 public:
  void add(access_meter& m) noexcept;
  struct totals {
    std::uint64_t bytes, remote_lines, peer_lines;
  };
  /// The kernel's totals, in lines of 2^line_shift bytes.
  [[nodiscard]] totals read(std::uint32_t line_shift) const noexcept;

 private:
  mutable std::mutex mutex_;
  std::uint64_t bytes_ = 0, remote_bytes_ = 0, peer_bytes_ = 0;
  std::unordered_set<std::uint64_t> remote_, peer_;
};

class device_model {
 public:
  using stream_key = model_clock::stream_key;
  using op_id = std::uint64_t;

  /// Where the copies of a move are charged: the host's clock (a CPU fault, or work between
  /// kernels), the device faults of the chunk's device, or a stream-ordered move.
  struct target {
    enum class kind : std::uint8_t { host, device_faults, moves };
    kind k = kind::host;
    op_id op = 0;  ///< for moves
  };

  /// Where the copies the calling thread makes are charged, while it lives (scopes nest).
  class charge_scope {
   public:
    explicit charge_scope(target t) noexcept;
    ~charge_scope();
    charge_scope(const charge_scope&) = delete;
    charge_scope& operator=(const charge_scope&) = delete;

   private:
    target saved_;
  };
  /// The calling thread's target (the host, outside any scope).
  [[nodiscard]] static target current() noexcept;

  /// Charges every profile of `profiles` (at least one), each on clocks of its own.
  device_model(std::vector<device_profile> profiles, std::uint64_t page_size, unsigned devices);

  /// The key of stream `s` (its identity, as the timeline's).
  [[nodiscard]] static stream_key key_of(const void* s) noexcept {
    return reinterpret_cast<std::uintptr_t>(s);
  }

  /// Where the first profile's schedule goes (kernels per stream, copies per engine, on the
  /// modelled clock); null: nowhere. Call before any work; `t` outlives the model.
  void set_timeline(timeline* t);

  /// The smallest line size of the profiles, as a shift: what access meters count in.
  [[nodiscard]] std::uint32_t line_shift() const noexcept { return line_shift_; }

  /// A kernel of the epoch `ticket` enqueued on `s` of device `d` (the caller holds the stream
  /// issue lock): the epoch's first is placed on the stream now, later ones (a launch scope's)
  /// add a launch to it. @return the tally its workers count into. @throws std::bad_alloc
  std::shared_ptr<access_tally> launch(op_id ticket, stream_key s, unsigned d);
  /// The epoch `ticket` is over: every kernel of it has finished.
  void kernel_done(op_id ticket) noexcept;

  /// A stream-ordered move enqueued on `s` of device `d`. @return its id. @throws std::bad_alloc
  op_id issue_moves(stream_key s, unsigned d);
  /// The move `m` has finished (its copies all charged through moved()).
  void moves_done(op_id m) noexcept;

  /// Pages whose data moved, for `t`. @throws std::bad_alloc
  void moved(const target& t, std::span<const modelled_move> moves);
  /// Page `page` of range `range` was mapped for device `d`'s faults. A page served twice for
  /// one kernel (a read fault, then a write fault that upgrades it, which a batch may or may not
  /// merge) counts once: what is charged does not depend on how records met in batches.
  void device_fault(unsigned d, std::uint32_t range, std::uint64_t page) noexcept;
  /// A CPU fault moved a page back (its copy is charged through moved()).
  void cpu_fault();

  /// The host waits for `s`, or for every stream.
  void wait(stream_key s);
  void wait_all();

  /// One account per profile, in the order given.
  [[nodiscard]] std::vector<modelled_time> snapshot() const;
  /// The figures start again from 0 (the clocks go on).
  void reset() noexcept;

 private:
  struct op {
    op_id id;
    bool kernel;
    unsigned device;
    std::vector<std::uint64_t> issued;  // each profile's host clock when it was enqueued
    bool done = false;
    kernel_account account;               // a kernel's
    std::shared_ptr<access_tally> tally;  // a kernel's
    std::vector<modelled_move> moves;     // a move's
  };
  struct totals {
    std::uint64_t kernels = 0, launch = 0, compute = 0, fault_service = 0, fault_copies = 0,
                  remote = 0, stream_copies = 0, cpu_faults = 0, device_faults = 0, batches = 0;
    latency_histogram per_kernel;
  };
  // What one profile charged, on its own clocks.
  struct ledger {
    device_profile profile;
    model_clock clock;
    totals sums;
    std::uint64_t origin = 0;  // the makespan at the last reset
  };
  op* find(op_id id);
  // Places a new operation on `s`'s queue. @throws std::bad_alloc
  void place(stream_key s, op o);
  // Charges the finished work at the head of `s`'s queue, in order.
  void settle(stream_key s) noexcept;
  void charge_kernel(stream_key s, op& o) noexcept;
  void charge_moves(stream_key s, op& o) noexcept;

  const std::uint64_t page_size_;
  mutable std::mutex mutex_;
  std::vector<ledger> ledgers_;
  std::uint32_t line_shift_;
  std::unordered_map<stream_key, std::deque<op>> queues_;
  std::unordered_map<op_id, stream_key> where_;
  // By device: fault work not yet charged to a kernel, and the pages it faulted on.
  std::vector<kernel_account> pending_;
  std::vector<std::unordered_set<std::uint64_t>> faulted_;
  op_id next_moves_ = op_id{1} << 63;  // above every epoch ticket
  timeline* timeline_ = nullptr;
  // The first profile's copy [end - ns, end) into or out of device `d`, on the timeline.
  void show_copy(unsigned d, copy_direction dir, std::uint64_t bytes, std::uint64_t end,
                 std::uint64_t ns) noexcept;
};

}  // namespace uvm::detail
