#pragma once

// NVTX in the library's one domain, `uvm`, so Nsight Systems shows the runtime's work beside the
// application's: function ranges on API entry points, ranges with a payload (bytes moved, records
// served) for migrations, evictions, prefetches and fault batches, and named threads. Used on
// API entry points and the service thread, never in the signal handler. Compiled out when the
// build has no NVTX headers.

#include <cstdint>

#include <pthread.h>

#if UVM_HAS_NVTX
#include <nvtx3/nvtx3.hpp>

#include <string_view>

#include <sys/syscall.h>
#include <unistd.h>

namespace uvm::detail {
struct nvtx_domain {
  static constexpr char const* name{"uvm"};
};
}  // namespace uvm::detail

namespace uvm::detail {

/// The categories of the payload ranges, named in the `uvm` domain on first use, so a tool can
/// filter fault service, data movement, eviction and prefetch apart.
inline const ::nvtx3::category& nvtx_category_of(const char* message) noexcept {
  using named = ::nvtx3::named_category_in<nvtx_domain>;
  static const named fault{1, "fault"};
  static const named migration{2, "migration"};
  static const named eviction{3, "eviction"};
  static const named prefetch{4, "prefetch"};
  const std::string_view m(message);
  if (m.find("fault") != std::string_view::npos) return fault;
  if (m.starts_with("evict")) return eviction;
  if (m.starts_with("prefetch") || m.starts_with("queued")) return prefetch;
  return migration;
}

}  // namespace uvm::detail

#define UVM_NVTX_FUNC_RANGE() NVTX3_FUNC_RANGE_IN(::uvm::detail::nvtx_domain)
/// A range named `message` (a string literal) whose payload is `value` (bytes or records), in
/// the category its name implies (fault, migration, eviction, prefetch).
#define UVM_NVTX_RANGE(message, value)                                   \
  ::nvtx3::scoped_range_in<::uvm::detail::nvtx_domain> uvm_nvtx_range_ { \
    ::nvtx3::event_attributes {                                          \
      message, ::nvtx3::payload{static_cast<std::uint64_t>(value)},      \
          ::uvm::detail::nvtx_category_of(message)                       \
    }                                                                    \
  }
#else
#define UVM_NVTX_FUNC_RANGE()
#define UVM_NVTX_RANGE(message, value) static_cast<void>(value)
#endif

namespace uvm::detail {

/// Names the calling thread for top, gdb (15 characters kept) and Nsight Systems.
inline void name_thread(const char* name) noexcept {
  char buf[16] = {};
  for (int i = 0; i < 15 && name[i] != '\0'; ++i) buf[i] = name[i];
  pthread_setname_np(pthread_self(), buf);
#if UVM_HAS_NVTX
  nvtxNameOsThreadA(static_cast<std::uint32_t>(syscall(SYS_gettid)), name);
#endif
}

}  // namespace uvm::detail
