#pragma once

/// @file
/// uvm::manager, the owner of every managed range and of the runtime that keeps them coherent.

#include <uvm/advice.hpp>
#include <uvm/config.hpp>
#include <uvm/launch_scope.hpp>
#include <uvm/location.hpp>
#include <uvm/page_state.hpp>
#include <uvm/range.hpp>
#include <uvm/stats.hpp>
#include <uvm/stream.hpp>

#include <chrono>
#include <cstddef>
#include <functional>
#include <initializer_list>
#include <limits>
#include <memory>
#include <span>
#include <string_view>

namespace uvm {

/// @brief A span of managed memory, for the batch calls.
struct memory_span {
  const void* data = nullptr;
  std::size_t bytes = 0;
};

/// @brief A span and where to prefetch it, for the batch calls.
struct prefetch_span {
  const void* data = nullptr;
  std::size_t bytes = 0;
  location to = location::device();
};

/// @brief Allocates managed ranges and serves their faults.
///
/// Every member function is thread-safe. Several managers may live in one process; they share
/// the process's one SIGSEGV handler, and a fault outside every manager's ranges goes to the
/// handler that was installed before the first manager (or kills the process with SIGSEGV, as it
/// would without the library).
///
/// @code
/// uvm::manager mgr;                              // config::from_env()
/// auto v = mgr.allocate<float>(1 << 20);         // zero-filled on first touch
/// for (float& x : v) x = 1.0f;                   // CPU faults populate pages on demand
/// uvm::stats s = mgr.stats();                    // s.first_touch.count == pages touched
/// @endcode
class manager {
 public:
  /// @brief Starts a runtime with `cfg`.
  /// @throws uvm::invalid_argument if `cfg` does not validate.
  /// @throws uvm::cuda_error if `cfg.backend` is `cuda` and no CUDA device is usable.
  explicit manager(config cfg = config::from_env());
  ~manager();
  manager(manager&&) noexcept;
  manager& operator=(manager&&) noexcept;
  manager(const manager&) = delete;
  manager& operator=(const manager&) = delete;

  /// @brief Reserves `bytes` of managed memory, rounded up to whole pages. No page is populated:
  /// each is zero-filled on its first access.
  ///
  /// Safe while kernels run, also kernels that wait for the calling thread: nothing is allocated
  /// or registered with the device while a kernel is in flight (CUDA may order both after it).
  /// The page table comes from a pool made at start; the range's host memory is registered at
  /// once if no kernel is in flight, else once the kernels in flight have ended, and kernels
  /// launched meanwhile start only after that (as after cudaMallocManaged). Only a range too
  /// large for the page-table pool (2^20 pages in all: 64 GiB at the default page size) waits for
  /// the kernels in flight, for the fault timeout at most.
  /// @throws uvm::invalid_argument if `bytes` is 0 or larger than max_allocation().
  /// @throws uvm::out_of_memory if the address space or the range registry is exhausted.
  /// @throws uvm::timeout if the page-table pool must grow and kernels still run after the fault
  /// timeout.
  [[nodiscard]] range allocate(std::size_t bytes);
  /// @brief As allocate(bytes), attached from the start as `initial`: `global` (the default) or
  /// `host`, as cudaMallocManaged's cudaMemAttachGlobal and cudaMemAttachHost.
  /// @throws uvm::invalid_argument also for `attach_kind::single` (attach it afterwards).
  [[nodiscard]] range allocate(std::size_t bytes, attach_kind initial);

  /// @brief Reserves `count` zero-initialised objects of type `T`.
  /// @throws as allocate(bytes); uvm::invalid_argument also if `count * sizeof(T)` overflows.
  template <class T>
  [[nodiscard]] typed_range<T> allocate(std::size_t count) {
    check_count(count, sizeof(T));
    return typed_range<T>(allocate(count * sizeof(T)), count);
  }

  /// @brief Frees a range whose ownership was given up with range::release(). Like cudaFree,
  /// it first waits for the kernels in flight that may use it and for its queued prefetches and
  /// discards (bounded by config::fault_timeout; past it the range stays mapped until the
  /// manager ends, with an error log). While other kernels are in flight, its page table and
  /// its registration with the device are released only once none is (CUDA may order a free
  /// or an unregistration after them).
  /// @param base the pointer range::release() returned.
  /// @throws uvm::invalid_argument if `base` is not the start of a released, live range of this
  /// manager (a double free, a foreign pointer, or a range still owned by a uvm::range).
  void free(void* base);

  /// @brief Applies `a` to every page that overlaps [p, p + bytes), as cudaMemAdvise does;
  /// `where` is the location that preferred-location and accessed-by advice name.
  /// @throws uvm::invalid_argument if the span is empty or not inside one live range, if
  /// `where` names a device that does not exist, or accessed-by names the host.
  void advise(const void* p, std::size_t bytes, advice a, location where = location::device());

  /// @brief What every page overlapping [p, p + bytes) was advised and where it was last
  /// prefetched, as cudaMemRangeGetAttributes reports.
  /// @throws uvm::invalid_argument as advise.
  [[nodiscard]] uvm::range_attributes range_attributes(const void* p, std::size_t bytes) const;

  /// @brief The real-time warm-up: makes the pages overlapping [p, p + bytes) resident at
  /// `where` and keeps them there until unpin(). On the host every page is populated, writable
  /// and locked (mlock), so CPU code takes no fault on it, and kernels map it remote. On the
  /// device the pages sit in frames that eviction never takes, so kernels take no fault on them
  /// (a CPU access still moves a page back, ending its pin).
  /// @throws uvm::out_of_memory if the device budget cannot hold them, uvm::system_error if the
  /// pages cannot be locked (RLIMIT_MEMLOCK), uvm::timeout if moves that other threads queue
  /// meanwhile keep taking the pages away again (after a few tries); nothing stays pinned then.
  void pin_resident(const void* p, std::size_t bytes, location where);
  /// @brief Ends one pin_resident over the span. Pins are counted per page: a page pinned by two
  /// overlapping calls stays pinned until both are unpinned.
  void unpin(const void* p, std::size_t bytes);

  /// @brief How many devices the manager drives; location::device(i) names device i,
  /// 0 <= i < device_count(). Every call given another index throws uvm::invalid_argument.
  [[nodiscard]] int device_count() const noexcept;

  /// @brief A new stream on `device`; work on different streams may overlap. Its kernels run
  /// on that device. `name` labels it on the timeline.
  /// @throws uvm::invalid_argument if `device` is not one of the manager's devices.
  [[nodiscard]] stream create_stream(std::string_view name = "user", int device = 0);

  /// @brief Attaches the range that starts at `p` as `k`, as cudaStreamAttachMemAsync does on
  /// devices without concurrent managed access: `single` memory is used only by kernels on `s`,
  /// so a CPU access to it waits only for `s`'s kernels; `host` memory is used by no kernel, so
  /// the CPU never waits for it; `global` memory (the default) may be used by every kernel. The
  /// change is stream-ordered: it takes effect once the work queued on `s` before it finishes
  /// (until then both attachments count; on an idle stream at once on the emulated device, within
  /// microseconds on a GPU). A kernel that accesses memory it may not use gets a
  /// device error naming the range (synchronize throws uvm::device_fault), not a hang, whatever
  /// the page's state (also in a device frame) as long as no kernel that may use the range runs
  /// at the same time (the device cannot tell kernels apart; docs/api.md).
  /// @param bytes 0 or the range's size: attachment is per allocation, as CUDA requires there.
  /// @throws uvm::invalid_argument if `p` does not start a live range, or `bytes` is neither.
  void attach(const void* p, std::size_t bytes, attach_kind k, const stream& s = {});
  /// @brief Attaches `r` (see above).
  void attach(const range& r, attach_kind k, const stream& s = {}) { attach(r.data(), 0, k, s); }

  /// @brief Runs `f(i)` for every i in [0, n) as a kernel on `s`, asynchronously (like a kernel
  /// launch). `f` reaches managed memory through device views (typed_range::view()); pages move
  /// to the device on demand. The launch opens an epoch: CPU accesses to device-held pages it
  /// may use (see attach) wait until it finishes; CPU accesses to host-held pages go ahead at
  /// once (coherence is per page: unordered CPU and kernel accesses to the same data race, as
  /// on a GPU with concurrent managed access). Call synchronize() to wait and collect device
  /// errors.
  ///
  /// On the emulated device `f` runs on a pool of CPU threads.
  /// @code
  /// auto x = mgr.allocate<float>(n);
  /// auto xv = x.view();
  /// mgr.parallel_for(n, [=](std::size_t i) { xv.store(i, xv.load(i) * 2); });
  /// mgr.synchronize();
  /// @endcode
  template <class F>
  void parallel_for(std::size_t n, F f, const stream& s = {}) {
    launch(n, per_index(std::move(f)), s, {}, false);
  }
  /// @brief parallel_for for a kernel that declares what it touches: CPU faults on pages outside
  /// `touches` do not wait for it, and its own accesses outside them are device errors (see
  /// attach). Nothing moves at the launch (unlike begin_launch's launch residency).
  template <class F>
  void parallel_for(std::size_t n, F f, const stream& s,
                    std::initializer_list<resident_span> touches) {
    launch(n, per_index(std::move(f)), s, {touches.begin(), touches.size()}, true);
  }

  /// @brief Opens an epoch on `s` for kernels that you launch yourself (see uvm::launch_scope):
  /// until the scope ends, CPU accesses to pages those kernels map wait for them.
  /// @param declared launch-residency spans: made device-resident first, each in contiguous
  /// device memory (scope.device_pointer() gives their raw addresses). Waits (at most the fault
  /// timeout) for kernels already in flight before it moves pages.
  /// @throws uvm::invalid_argument if a span is empty or not inside one range,
  /// uvm::out_of_memory if the device budget cannot hold the spans (contiguously, together),
  /// uvm::timeout if earlier kernels did not finish. No epoch is open then.
  [[nodiscard]] launch_scope begin_launch(std::initializer_list<resident_span> declared,
                                          const stream& s = {});
  [[nodiscard]] launch_scope begin_launch(const stream& s = {}) { return begin_launch({}, s); }
  /// @brief Opens an epoch on `s` for instrumented kernels that touch only `touches`: CPU
  /// faults on other pages do not wait for them. Nothing moves (see parallel_for's overload).
  /// @throws uvm::invalid_argument if a span is empty or not inside one range.
  [[nodiscard]] launch_scope begin_declared_launch(std::initializer_list<resident_span> touches,
                                                   const stream& s = {});

  /// @brief Waits for the work queued on `s` to finish (its kernels, copies, prefetches and
  /// discards), as cudaStreamSynchronize; on the default stream, for all of the manager's
  /// device work issued before the call on every stream (not for what other threads issue
  /// while it waits), as cudaDeviceSynchronize. Every member is thread-safe: operations that
  /// threads queue on one stream at once run in the order their calls took effect.
  /// @throws uvm::device_fault if a kernel could not access a page within the fault timeout, or
  /// accessed memory it may not use (see attach); the message names the page and range;
  /// reported once.
  /// @throws uvm::timeout if the work did not finish within `timeout`.
  /// @throws uvm::error if a kernel failed (on the emulated device: its functor threw; the
  /// message has the exception's text), or a queued prefetch or discard failed (its message).
  void synchronize(const stream& s = {},
                   std::chrono::milliseconds timeout = std::chrono::minutes(5));

  /// @brief Moves the pages overlapping [p, p + bytes) to `to`, as cudaMemPrefetchAsync does,
  /// and returns at once: the move runs once the work queued on `s` before it has finished,
  /// and the work queued on `s` after it (kernels, copies, other prefetches) starts once the
  /// pages are in place. Moves on different streams overlap each other and kernels. The move is
  /// pipelined in chunks, coalescing contiguous pages. To the device, as many pages as the
  /// device budget holds move, evicting the oldest resident pages if no kernel is running. To
  /// the host, it first waits for the kernels in flight that may use the pages (see attach).
  /// A CPU access to a page while it moves waits for it (bounded). synchronize(s) waits for the
  /// move and reports its errors; stats().prefetched_pages counts the pages moved.
  /// @throws uvm::invalid_argument at once if the span is empty or not inside one range, or
  /// `to` names a device that does not exist.
  void prefetch(const void* p, std::size_t bytes, location to, const stream& s = {});

  /// @brief Prefetches every page of `r` to `to` (see above).
  void prefetch(const range& r, location to, const stream& s = {}) {
    prefetch(r.data(), r.page_count() * r.page_size(), to, s);
  }

  /// @brief Prefetches several spans with one stream operation, as cudaMemPrefetchBatchAsync:
  /// the batch runs after the work queued on `s` before it, the spans in any order.
  /// @throws uvm::invalid_argument at once if any span is bad (nothing is queued).
  void prefetch(std::span<const prefetch_span> spans, const stream& s = {});

  /// @brief The contents of the pages inside [p, p + bytes) are dead, as
  /// cudaMemDiscardBatchAsync says: stream-ordered like prefetch, the pages are dropped wherever
  /// they are, never copied back (device frames are freed without a copy), and read as zeros
  /// on their next touch. Only pages wholly inside the span are discarded (a partial page keeps
  /// its bytes). Waits first for the kernels in flight that may use them, as a move to the host
  /// does. stats().discarded_pages counts them.
  /// @throws uvm::invalid_argument at once as prefetch; when the discard runs, a page pinned by
  /// pin_resident fails it (reported by synchronize; nothing of that span is discarded).
  void discard(const void* p, std::size_t bytes, const stream& s = {});
  /// @brief Discards several spans with one stream operation (cudaMemDiscardBatchAsync).
  void discard(std::span<const memory_span> spans, const stream& s = {});
  /// @brief Discards the spans, then prefetches them to their locations, in one stream
  /// operation (cudaMemDiscardAndPrefetchBatchAsync): nothing is copied back first; pages that
  /// land on the device are zero-filled there.
  void discard_and_prefetch(std::span<const prefetch_span> spans, const stream& s = {});

  /// @brief The state of the page holding `p`.
  /// @throws uvm::invalid_argument if `p` is not inside a live range of this manager.
  [[nodiscard]] page_state state_of(const void* p) const;

  /// @return a snapshot of the counters.
  [[nodiscard]] uvm::stats stats() const;
  /// @brief Zeroes the counters (live_ranges and reserved_bytes are kept).
  void reset_stats();

  /// @return the configuration in force, after validation.
  [[nodiscard]] const config& configuration() const noexcept;
  /// @return the backend chosen at construction (`automatic` resolved).
  [[nodiscard]] backend_kind backend() const noexcept;
  /// @return the largest size allocate() accepts: 1 TiB, or less where the address space is
  /// smaller.
  [[nodiscard]] static std::size_t max_allocation() noexcept;

 private:
  static void check_count(std::size_t count, std::size_t element_size);
  template <class F>
  static std::function<void(std::size_t, std::size_t)> per_index(F f) {
    return [f](std::size_t begin, std::size_t end) {
      for (std::size_t i = begin; i < end; ++i) f(i);
    };
  }
  void launch(std::size_t n, std::function<void(std::size_t, std::size_t)> body, const stream& s,
              std::span<const resident_span> touches, bool declared);
  std::shared_ptr<detail::runtime> runtime_;
};

}  // namespace uvm
