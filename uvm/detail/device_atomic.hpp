#pragma once

/// @file
/// The few atomic operations device code needs, with system scope so host and device see each
/// other's writes to mapped memory. On the emulated device (host compilation) they are
/// std::atomic_ref operations.

#include <uvm/detail/host_device.hpp>

#include <cstdint>

#if !defined(__CUDA_ARCH__)
#include <atomic>
#include <ctime>
#endif

namespace uvm::detail {

UVM_HOST_DEVICE inline std::uint32_t load_acquire(const std::uint32_t* p) noexcept {
#if defined(__CUDA_ARCH__)
  const std::uint32_t v = *reinterpret_cast<const volatile std::uint32_t*>(p);
  __threadfence_system();
  return v;
#else
  return std::atomic_ref<const std::uint32_t>(*p).load(std::memory_order_acquire);
#endif
}

UVM_HOST_DEVICE inline void store_release(std::uint32_t* p, std::uint32_t v) noexcept {
#if defined(__CUDA_ARCH__)
  __threadfence_system();
  *reinterpret_cast<volatile std::uint32_t*>(p) = v;
#else
  std::atomic_ref<std::uint32_t>(*p).store(v, std::memory_order_release);
#endif
}

/// Device-scope acquire load, for words only this device's threads and stream-ordered writes
/// touch (the device page table): cheaper than a system-scope load on the fast path.
UVM_HOST_DEVICE inline std::uint32_t load_acquire_device(const std::uint32_t* p) noexcept {
#if defined(__CUDA_ARCH__)
  std::uint32_t v;
  asm volatile("ld.acquire.gpu.u32 %0, [%1];" : "=r"(v) : "l"(p) : "memory");
  return v;
#else
  return std::atomic_ref<const std::uint32_t>(*p).load(std::memory_order_acquire);
#endif
}

/// Device-scope relaxed load, for the accessor's fast path: one plain load per access. An entry
/// it finds valid was published by the copy engine after its page's data, in stream order; the
/// slow path, which waits for a change, reads with load_acquire_device. On the emulated device
/// (the host) it is an acquire load, which costs nothing more on x86 and keeps the data race
/// detector's happens-before with the copy engine's stores.
UVM_HOST_DEVICE inline std::uint32_t load_relaxed_device(const std::uint32_t* p) noexcept {
#if defined(__CUDA_ARCH__)
  std::uint32_t v;
  asm volatile("ld.relaxed.gpu.u32 %0, [%1];" : "=r"(v) : "l"(p) : "memory");
  return v;
#else
  return std::atomic_ref<const std::uint32_t>(*p).load(std::memory_order_acquire);
#endif
}

/// Device-scope fetch-or (page-table flag bits, which the host reads only between kernels).
UVM_HOST_DEVICE inline std::uint32_t fetch_or_device(std::uint32_t* p, std::uint32_t v) noexcept {
#if defined(__CUDA_ARCH__)
  return atomicOr(p, v);
#else
  return std::atomic_ref<std::uint32_t>(*p).fetch_or(v, std::memory_order_acq_rel);
#endif
}

/// Device-scope fetch-and (clearing the fault-pending bit of an entry).
UVM_HOST_DEVICE inline std::uint32_t fetch_and_device(std::uint32_t* p, std::uint32_t v) noexcept {
#if defined(__CUDA_ARCH__)
  return atomicAnd(p, v);
#else
  return std::atomic_ref<std::uint32_t>(*p).fetch_and(v, std::memory_order_acq_rel);
#endif
}

/// Nanoseconds on a clock that only needs to measure intervals on the calling agent.
UVM_HOST_DEVICE inline std::uint64_t device_clock_ns() noexcept {
#if defined(__CUDA_ARCH__)
  std::uint64_t t;
  asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(t));
  return t;
#else
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<std::uint64_t>(ts.tv_sec) * 1000000000u +
         static_cast<std::uint64_t>(ts.tv_nsec);
#endif
}

/// Backs off for about `ns` nanoseconds.
UVM_HOST_DEVICE inline void backoff(std::uint32_t ns) noexcept {
#if defined(__CUDA_ARCH__)
  __nanosleep(ns);
#else
  const timespec ts{0, static_cast<long>(ns)};
  nanosleep(&ts, nullptr);
#endif
}

UVM_HOST_DEVICE inline bool compare_exchange(std::uint32_t* p, std::uint32_t expected,
                                             std::uint32_t desired) noexcept {
#if defined(__CUDA_ARCH__)
  return atomicCAS_system(p, expected, desired) == expected;
#else
  return std::atomic_ref<std::uint32_t>(*p).compare_exchange_strong(expected, desired,
                                                                    std::memory_order_acq_rel);
#endif
}

}  // namespace uvm::detail
