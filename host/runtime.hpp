#pragma once

// What a uvm::manager owns: the fault source, the fault service thread, the counters and the
// live ranges. Shared by the manager and its ranges, so ranges may outlive the manager object.

#include "host/backend/backend.hpp"
#include "host/coherence/managed_range.hpp"
#include "host/fault/service/fault_service.hpp"
#include "host/memory/view_protection.hpp"
#include "host/migration/migrator.hpp"
#include "host/migration/move_queue.hpp"
#include "host/model/device_model.hpp"
#include "host/telemetry/counters.hpp"
#include "host/telemetry/event_ring.hpp"
#include "host/telemetry/timeline.hpp"
#include "host/telemetry/trace_writer.hpp"

#include <uvm/advice.hpp>
#include <uvm/config.hpp>
#include <uvm/launch_scope.hpp>
#include <uvm/location.hpp>
#include <uvm/manager.hpp>
#include <uvm/stats.hpp>
#include <uvm/stream.hpp>

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <span>
#include <vector>

namespace uvm::detail {

class runtime {
 public:
  /// @throws as uvm::manager's constructor.
  explicit runtime(config cfg);
  ~runtime();
  runtime(const runtime&) = delete;
  runtime& operator=(const runtime&) = delete;

  /// @throws as uvm::manager::allocate.
  managed_range* allocate(std::size_t bytes, attach_kind initial);
  /// Frees a range owned by a uvm::range.
  void free(managed_range* r) noexcept;
  /// Hands a range's ownership to the runtime (uvm::range::release).
  void release(managed_range* r) noexcept;
  /// @throws uvm::invalid_argument unless `base` starts a released, live range.
  void free_released(void* base);

  /// @throws uvm::invalid_argument if `p` is in no live range of this runtime.
  [[nodiscard]] managed_range& find(const void* p) const;

  [[nodiscard]] int device_count() const noexcept {
    return static_cast<int>(backend_->device_count());
  }
  /// @throws uvm::invalid_argument for a device outside 0 .. device_count() - 1.
  [[nodiscard]] stream create_stream(std::string_view name, int device);
  /// @throws as uvm::manager::attach.
  void attach(const void* p, std::size_t bytes, attach_kind k, const uvm::stream& s);
  /// Runs `body` as one kernel in its own epoch (emulated device); with `declared`, it touches
  /// only `touches`.
  void launch(std::size_t n, kernel_body body, const uvm::stream& s,
              std::span<const resident_span> touches, bool declared);

  struct epoch {
    std::vector<resident_mapping> mappings;  ///< where the resident spans are on the device
    std::uint64_t ticket;                    ///< for end_epoch
  };
  /// Makes the `resident` spans device-resident (contiguous per span), then opens an epoch on
  /// `s` for kernels that touch only `touches` (with `declared`) or anything.
  /// @throws uvm::invalid_argument, uvm::out_of_memory, uvm::timeout; no epoch is open then.
  epoch begin_epoch(std::span<const resident_span> resident, std::span<const resident_span> touches,
                    bool declared, const uvm::stream& s);
  /// Ends the epoch `ticket` after the work enqueued on `s` so far.
  void end_epoch(const uvm::stream& s, std::uint64_t ticket) noexcept;
  /// For an epoch whose kernels the application enqueues itself: while a range allocated
  /// during kernels waits for its registration, they wait behind a gate on `s`
  /// (migrator::lock_issue). On failure the epoch is ended.
  void hold_for_registrations(const uvm::stream& s, std::uint64_t ticket);
  /// Enqueues `body` on `s` inside the open epoch `ticket` (emulated device).
  void run(std::size_t n, kernel_body body, const uvm::stream& s, std::uint64_t ticket);
  /// The stream as the device API knows it (nullptr on the emulated device).
  [[nodiscard]] void* native_stream(const uvm::stream& s) {
    return backend_->native_handle(stream_of(s));
  }
  /// The CUDA ordinal of `s`'s GPU; -1 on the emulated device.
  [[nodiscard]] int native_device(const uvm::stream& s) {
    if (native_stream(s) == nullptr) return -1;
    return static_cast<int>(backend_->native_device(backend_->device_of(stream_of(s))));
  }
  /// @throws uvm::error on a device error or a timeout.
  void synchronize(const uvm::stream& s, std::chrono::milliseconds timeout);
  /// Queues one stream operation on `s` over `spans`: with `discard`, their whole pages are
  /// discarded first; with `prefetch`, the spans then move to their locations.
  /// @throws uvm::invalid_argument on a bad span or location (nothing is queued).
  void enqueue_moves(std::span<const prefetch_span> spans, bool discard, bool prefetch,
                     const uvm::stream& s);
  void advise(const void* p, std::size_t bytes, advice a, location where);
  [[nodiscard]] range_attributes attributes(const void* p, std::size_t bytes) const;
  void pin_resident(const void* p, std::size_t bytes, location where);
  void unpin(const void* p, std::size_t bytes);

  [[nodiscard]] stats snapshot() const;
  void reset_stats() noexcept;
  [[nodiscard]] const config& cfg() const noexcept { return cfg_; }
  [[nodiscard]] backend_kind backend() const noexcept { return kind_; }

 private:
  // The stream issue lock for the epoch `ticket` on `s` (migrator::lock_issue); if that fails
  // the epoch is ended, nothing having been enqueued.
  std::unique_lock<std::mutex> lock_issue(const uvm::stream& s, std::uint64_t ticket);
  struct entry {
    std::unique_ptr<managed_range> range;
    bool released = false;
  };
  void destroy(std::map<std::uintptr_t, entry>::iterator it) noexcept;  // mutex_ held
  // Frees the range at `base` once no kernel that may use it is in flight, as cudaFree waits for
  // the device. Past the fault timeout the range stays alive (released to the runtime, which
  // frees it at its end), with an error log: memory is never unmapped under a kernel.
  void free_after_kernels(std::uintptr_t base) noexcept;
  struct span {
    managed_range& range;
    std::size_t first;  ///< first page
    std::size_t count;  ///< pages
  };
  /// The pages overlapping [p, p + bytes). @throws uvm::invalid_argument naming `call`.
  [[nodiscard]] span span_of(const void* p, std::size_t bytes, std::string_view call) const;
  /// @throws uvm::invalid_argument naming `call` if `where` is a device outside
  /// 0 .. device_count() - 1.
  void expect_device(location where, std::string_view call) const;
  void take_device_error();  // throws uvm::device_fault if a kernel recorded one
  // end_epoch with issue_ held: the end is recorded in the stream right after what came before.
  void close_epoch(const uvm::stream& s, std::uint64_t ticket) noexcept;
  [[nodiscard]] const stream& stream_of(const uvm::stream& s) const noexcept {
    return s.is_default() ? migrator_->default_stream() : s.handle();
  }
  // `body` as the device model counts it: each worker's share into the epoch's tally (model_
  // set; the caller holds the stream issue lock).
  kernel_body metered(kernel_body body, const uvm::stream& s, std::uint64_t ticket);

  config cfg_;
  backend_kind kind_;
  std::shared_ptr<view_protection> source_;
  counters counters_;
  event_ring events_;
  std::unique_ptr<trace_writer> trace_;  // before the service thread, which drains it
  std::unique_ptr<timeline> timeline_;   // likewise; null: none
  std::atomic<std::uint32_t> epoch_{0};
  std::unique_ptr<detail::backend> backend_;
  std::unique_ptr<device_model> model_;  // null: no device model
  std::unique_ptr<migrator> migrator_;
  // Held while work is enqueued on a stream (a kernel; a queued move's event and gate), so the
  // order in which such calls take effect is the order their stream runs them.
  std::mutex issue_;
  std::unique_ptr<move_queue> moves_;  // stream-ordered prefetches and discards
  // Each device's fault ring's control words (its memory), and a stream on it that reads them
  // back: never behind a running kernel.
  struct control_words {
    mailbox_control* words = nullptr;
    detail::stream reader;
  };
  std::vector<control_words> controls_;  // by device
  void take_device_error(const control_words& c);
  std::byte* words_ = nullptr;              // a registered host page: control words read back
  std::mutex words_mutex_;                  // take_device_error's use of words_
  std::unique_ptr<fault_service> service_;  // leaked with the device if kernels never end
  std::atomic<std::uint64_t> service_cpu_base_{0};  // its CPU time at the last reset_stats
  fault_context ctx_;
  mutable std::mutex mutex_;
  std::map<std::uintptr_t, entry> ranges_;  // by base address
};

}  // namespace uvm::detail
