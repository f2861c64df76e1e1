#pragma once

/// @file
/// Run-time configuration of a uvm::manager. Every field has a default and a `UVM_*` environment
/// variable that overrides it; docs/configuration.md has the table.

#include <uvm/policy.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace uvm {

/// @brief Which device implementation backs the device side of managed ranges.
enum class backend_kind : std::uint8_t {
  automatic,  ///< `cuda` if a CUDA device is usable, else `emulated`
  cuda,       ///< a real NVIDIA GPU (needs a build with the CUDA toolkit and a driver)
  emulated,   ///< device memory in host RAM and kernels on CPU threads
};

/// @brief How CPU accesses to non-resident pages are caught.
enum class fault_mechanism : std::uint8_t {
  automatic,    ///< `userfaultfd` where this process may use it, else `signal`
  signal,       ///< app-view protections with mprotect, caught by a SIGSEGV handler
  userfaultfd,  ///< pages mapped in place and faults read from a userfaultfd: system calls on
                ///< managed memory work, and no mapping is split (Linux 6.4 or later, and
                ///< CAP_SYS_PTRACE, vm.unprivileged_userfaultfd = 1 or access to /dev/userfaultfd)
};

/// @brief Which resident page gives up its device frame when a frame is needed.
enum class eviction_kind : std::uint8_t {
  fifo,      ///< the page resident longest (what NVIDIA's driver effectively does)
  lru,       ///< the page least recently used by kernels (device accessed bits, per kernel)
  clock,     ///< second chance over resident pages, using the same accessed bits
  adaptive,  ///< lru that switches to evicting the most recently used page in loops too big
             ///< for the device (scan-resistant; near Belady's optimum on cyclic sets)
  lfu,       ///< the page used least often (counts kept across evictions and aged), then the
             ///< least recent: skewed popularity (embedding tables, hot keys)
  dueling,   ///< set dueling: lru, lfu and adaptive each run on a shadow device, and the one
             ///< with the fewest recent misses picks the victims (see docs/policies.md)
};

/// @brief Which pages move to the device along with a faulting page (within its 2 MiB block).
enum class prefetch_kind : std::uint8_t {
  none,        ///< only the faulting page
  sequential,  ///< the next 16 pages
  tree,        ///< its 64 KiB big page, then subtrees more than 51% occupied (NVIDIA's rule)
};

/// @brief Severity threshold of the `uvm` logger.
enum class log_level : std::uint8_t { trace, debug, info, warn, error, critical, off };

/// @brief Settings of a manager. Plain data: set fields, then pass it to uvm::manager.
///
/// @code
/// uvm::config cfg = uvm::config::from_env();  // defaults, then UVM_* variables
/// cfg.page_size = 2 << 20;
/// uvm::manager mgr{cfg};
/// @endcode
struct config {
  /// Unit of coherence and migration. A power of two, at least the OS page size and at most
  /// 1 GiB. Env: `UVM_PAGE_SIZE` (bytes, or with a K/M/G suffix).
  std::size_t page_size = std::size_t{64} << 10;

  /// Device memory the manager may use for page frames, in bytes; 0 picks a safe fraction of the
  /// device's free memory. Env: `UVM_DEVICE_BUDGET` (bytes, or with a K/M/G suffix).
  std::size_t device_budget = 0;

  /// Env: `UVM_BACKEND` = `auto` | `cuda` | `emulated`.
  backend_kind backend = backend_kind::automatic;

  /// How many devices the emulated backend has, 1 to 8: each with its own frames (and
  /// `device_budget` of them), page tables, copy engines and kernel workers. The cuda backend
  /// ignores it (see cuda_devices). Env: `UVM_EMULATED_DEVICES`.
  unsigned emulated_devices = 1;

  /// Threads per emulated device that run kernels (its "SMs"), 1 to 256; 0: as many as the
  /// machine has hardware threads, at least 2. A kernel holds the workers it runs on until it
  /// returns, as on a GPU. Env: `UVM_EMULATED_WORKERS`.
  unsigned emulated_workers = 0;

  /// The GPUs the cuda backend drives, by CUDA ordinal (as CUDA_VISIBLE_DEVICES leaves them
  /// numbered): the manager's device i is GPU cuda_devices[i]. At most 8, each below 32, none
  /// twice. Empty: every visible GPU, the first 8 if there are more. Each GPU gets
  /// `device_budget` of frames (0: a share of its own free memory). With several, each must map
  /// registered host memory at the host's address (every 64-bit Linux system does), and pages
  /// move GPU to GPU by peer copies where cudaDeviceCanAccessPeer allows (through host memory
  /// elsewhere). Env: `UVM_CUDA_DEVICES` = `all` or a list such as `0,2`.
  std::vector<unsigned> cuda_devices;

  /// Env: `UVM_FAULT_MECHANISM` = `auto` | `signal` | `userfaultfd`.
  fault_mechanism faults = fault_mechanism::automatic;

  /// Env: `UVM_EVICTION` = `fifo` | `lru` | `clock` | `adaptive` | `lfu` | `dueling`.
  eviction_kind eviction = eviction_kind::dueling;

  /// Env: `UVM_PREFETCH` = `none` | `sequential` | `tree`.
  prefetch_kind prefetch = prefetch_kind::none;

  /// The application's own eviction policy (uvm/policy.hpp), made once by each manager built
  /// from this config; when set, `eviction` is ignored. Returning nullptr is an
  /// invalid_argument at construction. No environment variable.
  std::function<std::unique_ptr<uvm::eviction_policy>()> custom_eviction;
  /// The application's own prefetch policy, likewise; when set, `prefetch` is ignored.
  std::function<std::unique_ptr<uvm::prefetch_policy>()> custom_prefetch;

  /// A page that migrates this many times within `thrashing_lapse` is thrashing: it is left out
  /// of prefetch, and after repeated detections pinned to the host and mapped remote (until it
  /// has been quiet for 20 lapses, at least 10 ms). Env: `UVM_THRASHING_MIGRATIONS` (0 turns
  /// detection off).
  unsigned thrashing_migrations = 3;

  /// Env: `UVM_THRASHING_LAPSE_US`.
  std::chrono::microseconds thrashing_lapse{500};

  /// Between kernels, a page mapped remote (no frame was free when a kernel first touched it)
  /// that kernels used in two epochs in a row moves into a frame, taking the frame of a
  /// resident page the eviction policy names if that page went unused in the last epoch.
  /// Counted by stats().promoted_pages. Off by default: on the emulated device it only adds
  /// bytes (docs/policies.md). Env: `UVM_PROMOTE_REMOTE` = `1` | `0`.
  bool promote_remote = false;

  /// The device model (uvm/device_model.hpp): a shipped profile's name (`pcie3-1080ti`,
  /// `h100-pcie5`, `gh200-c2c`) or the path of a profile in JSON, or several separated by
  /// commas (`all`: every shipped profile); empty: none. The emulated device then reports in
  /// stats().modelled what the run would take on each of those GPUs; the cuda backend has real
  /// time, and a model there is an invalid_argument. Env: `UVM_DEVICE_MODEL`.
  std::string device_model;

  /// Where to record the run's page-access trace for uvm-replay (empty: no trace).
  /// Env: `UVM_TRACE`.
  std::string trace_path;

  /// Where to write the run's timeline as Chrome trace event JSON, for the Perfetto UI or
  /// chrome://tracing (empty: none): CPU faults per thread, fault batches, migrations per copy
  /// direction, kernel epochs per stream, and instants for thrashing, pins and remote mappings.
  /// Finished when the manager is destroyed (docs/profiling.md). Env: `UVM_TIMELINE`.
  std::string timeline_path;

  /// At manager destruction, write uvm::summary(stats()) as one line on stderr (counted since
  /// the last reset_stats()). Env: `UVM_STATS` = `1` | `0`.
  bool print_stats = false;

  /// Threshold of the `uvm` spdlog logger. Env: `UVM_LOG_LEVEL` = `trace` ... `off`.
  log_level log = log_level::warn;

  /// Longest a faulting thread waits for a page before the fault is reported as an error.
  /// Env: `UVM_FAULT_TIMEOUT_MS`.
  std::chrono::milliseconds fault_timeout{10'000};

  /// @brief The defaults in `base`, overridden by every `UVM_*` variable that is set.
  /// @throws uvm::invalid_argument naming the variable when a value does not parse or validate.
  [[nodiscard]] static config from_env(config base);

  /// @brief The built-in defaults overridden by every `UVM_*` variable that is set.
  /// @throws uvm::invalid_argument naming the variable when a value does not parse or validate.
  [[nodiscard]] static config from_env();

  /// @brief Checks every field.
  /// @throws uvm::invalid_argument describing the first field that is out of its domain.
  void validate() const;
};

/// @return `auto`, `cuda` or `emulated`.
[[nodiscard]] std::string_view to_string(backend_kind k) noexcept;
/// @return `auto`, `signal` or `userfaultfd`.
[[nodiscard]] std::string_view to_string(fault_mechanism m) noexcept;
/// @return `fifo`, `lru`, `clock`, `adaptive`, `lfu` or `dueling`.
[[nodiscard]] std::string_view to_string(eviction_kind k) noexcept;
/// @return `none`, `sequential` or `tree`.
[[nodiscard]] std::string_view to_string(prefetch_kind k) noexcept;
/// @return `trace`, `debug`, `info`, `warn`, `error`, `critical` or `off`.
[[nodiscard]] std::string_view to_string(log_level l) noexcept;

}  // namespace uvm
