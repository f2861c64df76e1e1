// The C API (uvm/uvm.h): thin noexcept wrappers over the default uvm::manager that turn every
// exception into a uvmError_t and a thread-local message.

#include "host/c_api_state.hpp"

#include "host/common/leak.hpp"

#include <uvm/error.hpp>

#include <cstdio>
#include <mutex>
#include <new>
#include <optional>
#include <string_view>
#include <unordered_set>
#include <utility>
#include <vector>

struct uvmStream_st {
  uvm::stream s;
};

namespace uvm::capi {
namespace {

// The last error and its message, per thread. A fixed buffer: recording an error never throws.
constexpr std::size_t message_capacity = 1024;
thread_local uvmError_t last_error = uvmSuccess;
thread_local char last_message[message_capacity] = "";

uvmError_t fail(uvmError_t code, const char* prefix, const char* what) noexcept {
  last_error = code;
  std::snprintf(last_message, message_capacity, "%s%s", prefix, what);
  return code;
}
uvmError_t fail(uvmError_t code, const char* what) noexcept {
  return fail(code, "", what);
}

const char* what_of(const std::exception_ptr& e) noexcept {
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& x) {
    return x.what();
  } catch (...) {
    return "uvm: an exception that is not a std::exception";
  }
}

// Live streams from uvmStreamCreate, so that a destroyed or forged handle is an error, not UB.
struct stream_registry {
  std::mutex mutex;
  std::unordered_set<uvmStream_st*> live;
};
stream_registry& streams() {
  static stream_registry r;
  return r;
}

// Copies the stream behind `h` (the default stream for NULL); false if `h` is not live.
bool resolve(uvmStream_t h, uvm::stream& out) {
  if (h == nullptr) {
    out = uvm::stream{};
    return true;
  }
  stream_registry& r = streams();
  std::lock_guard lock(r.mutex);
  if (!r.live.contains(h)) return false;
  out = h->s;
  return true;
}

// Runs `body(manager&)` (which returns uvmSuccess or a code it recorded with fail()), creating
// the default manager first; every exception becomes an error code.
template <class Body>
uvmError_t with_manager(origin where, Body&& body) noexcept {
  manager* m = nullptr;
  try {
    m = &default_manager();
  } catch (...) {
    const std::exception_ptr e = std::current_exception();
    return fail(code_of(e, origin::init),
                "uvm: the default manager could not be created: ", what_of(e));
  }
  try {
    return std::forward<Body>(body)(*m);
  } catch (...) {
    const std::exception_ptr e = std::current_exception();
    return fail(code_of(e, where), what_of(e));
  }
}

// uvmSuccess if `device` is one of the manager's devices (or, with `host_ok`, uvmCpuDeviceId);
// else records uvmErrorInvalidDevice with fail(), naming `what`.
uvmError_t check_device(const char* what, int device, bool host_ok) noexcept {
  return with_manager(origin::call, [&](manager& m) {
    if ((host_ok && device == uvmCpuDeviceId) || (device >= 0 && device < m.device_count())) {
      return uvmSuccess;
    }
    char text[200];
    std::snprintf(text, sizeof text, "%s: device %d does not exist (devices 0 to %d%s)", what,
                  device, m.device_count() - 1, host_ok ? "; uvmCpuDeviceId (-1) the host" : "");
    return fail(uvmErrorInvalidDevice, text);
  });
}

// A device number of the C API (uvmCpuDeviceId for the host) as a location.
uvm::location location_of(int device) noexcept {
  return device == uvmCpuDeviceId ? uvm::location::host() : uvm::location::device(device);
}

// The calling thread's device (uvmSetDevice), as CUDA's current device.
thread_local int current_device = 0;

uvmError_t synchronize(uvmStream_t h, const char* fn) noexcept {
  return with_manager(origin::synchronize, [&](manager& m) {
    uvm::stream s;
    if (!resolve(h, s)) {
      return fail(uvmErrorInvalidResourceHandle, fn, ": not a live stream from uvmStreamCreate");
    }
    m.synchronize(s);
    return uvmSuccess;
  });
}

}  // namespace

manager& default_manager() {
  // Never destroyed: the C API may be used from static destructors and atexit handlers, after
  // a function-local static would be gone. The process's exit reclaims it.
  static manager* const m = detail::leak_on_purpose(new manager{config::from_env()});
  return *m;
}

uvmError_t code_of(const std::exception_ptr& e, origin where) noexcept {
  if (where == origin::init) return uvmErrorInitializationError;
  try {
    std::rethrow_exception(e);
  } catch (const uvm::invalid_argument&) {
    return uvmErrorInvalidValue;
  } catch (const uvm::out_of_memory&) {
    return uvmErrorMemoryAllocation;
  } catch (const uvm::cuda_error&) {
    return uvmErrorUnknown;
  } catch (const uvm::system_error&) {
    return uvmErrorUnknown;
  } catch (const uvm::device_fault&) {
    return uvmErrorDeviceFault;
  } catch (const uvm::timeout&) {
    return uvmErrorTimeout;
  } catch (const uvm::error&) {
    return uvmErrorUnknown;
  } catch (const std::bad_alloc&) {
    return uvmErrorMemoryAllocation;
  } catch (...) {
    return uvmErrorUnknown;
  }
}

}  // namespace uvm::capi

using uvm::capi::fail;
using uvm::capi::origin;
using uvm::capi::with_manager;

extern "C" {

uvmError_t uvmMallocManaged(void** devPtr, size_t size, unsigned int flags) noexcept {
  if (devPtr == nullptr) return fail(uvmErrorInvalidValue, "uvmMallocManaged: devPtr is NULL");
  *devPtr = nullptr;
  if (size == 0) return fail(uvmErrorInvalidValue, "uvmMallocManaged: size is 0");
  if (flags != uvmMemAttachGlobal && flags != uvmMemAttachHost) {
    char text[128];
    std::snprintf(text, sizeof text,
                  "uvmMallocManaged: flags %#x; uvmMemAttachGlobal (1) or uvmMemAttachHost (2)",
                  flags);
    return fail(uvmErrorInvalidValue, text);
  }
  if (size > uvm::manager::max_allocation()) {
    char text[160];
    std::snprintf(text, sizeof text,
                  "uvmMallocManaged: %zu bytes is more than the largest allocation, %zu bytes",
                  size, uvm::manager::max_allocation());
    return fail(uvmErrorMemoryAllocation, text);
  }
  return with_manager(origin::call, [&](uvm::manager& m) {
    uvm::range r = m.allocate(
        size, flags == uvmMemAttachHost ? uvm::attach_kind::host : uvm::attach_kind::global);
    *devPtr = r.release();
    return uvmSuccess;
  });
}

uvmError_t uvmFree(void* devPtr) noexcept {
  if (devPtr == nullptr) return uvmSuccess;
  return with_manager(origin::call, [&](uvm::manager& m) {
    m.free(devPtr);
    return uvmSuccess;
  });
}

uvmError_t uvmMemPrefetchAsync(const void* devPtr, size_t count, int dstDevice,
                               uvmStream_t stream) noexcept {
  if (const uvmError_t e = uvm::capi::check_device("uvmMemPrefetchAsync", dstDevice, true);
      e != uvmSuccess) {
    return e;
  }
  return with_manager(origin::call, [&](uvm::manager& m) {
    uvm::stream s;
    if (!uvm::capi::resolve(stream, s)) {
      return fail(uvmErrorInvalidResourceHandle,
                  "uvmMemPrefetchAsync: not a live stream from uvmStreamCreate");
    }
    m.prefetch(devPtr, count, uvm::capi::location_of(dstDevice), s);
    return uvmSuccess;
  });
}

}  // extern "C"

namespace {

// Checks a batch's arrays as CUDA does and builds its spans; `locs` null: no locations (a
// discard). @return uvmSuccess, or the code it recorded with fail().
uvmError_t batch_spans(const char* fn, void** dptrs, size_t* sizes, size_t count, int* locs,
                       size_t* idxs, size_t nlocs, unsigned long long flags, bool with_locations,
                       std::vector<uvm::prefetch_span>& out) {
  char text[200];
  if (dptrs == nullptr || sizes == nullptr || count == 0) {
    std::snprintf(text, sizeof text, "%s: dptrs and sizes must be arrays of count > 0 spans", fn);
    return fail(uvmErrorInvalidValue, text);
  }
  if (flags != 0) {
    std::snprintf(text, sizeof text, "%s: flags %#llx; they must be 0", fn, flags);
    return fail(uvmErrorInvalidValue, text);
  }
  out.assign(count, {});
  for (size_t i = 0; i < count; ++i) out[i] = {dptrs[i], sizes[i], uvm::location::host()};
  if (!with_locations) return uvmSuccess;
  if (locs == nullptr || idxs == nullptr || nlocs == 0 || nlocs > count || idxs[0] != 0) {
    std::snprintf(text, sizeof text,
                  "%s: prefetchLocs and prefetchLocIdxs must hold 1 to count entries, the "
                  "first index 0",
                  fn);
    return fail(uvmErrorInvalidValue, text);
  }
  for (size_t k = 0; k < nlocs; ++k) {
    if ((k > 0 && idxs[k] <= idxs[k - 1]) || idxs[k] >= count) {
      std::snprintf(text, sizeof text,
                    "%s: prefetchLocIdxs[%zu] = %zu; indices must increase and stay below %zu", fn,
                    k, idxs[k], count);
      return fail(uvmErrorInvalidValue, text);
    }
    std::snprintf(text, sizeof text, "%s: prefetchLocs[%zu]", fn, k);
    if (const uvmError_t e = uvm::capi::check_device(text, locs[k], true); e != uvmSuccess) {
      return e;
    }
    const size_t end = k + 1 < nlocs ? idxs[k + 1] : count;
    for (size_t i = idxs[k]; i < end; ++i) {
      out[i].to = uvm::capi::location_of(locs[k]);
    }
  }
  return uvmSuccess;
}

template <class Run>
uvmError_t on_stream(const char* fn, uvmStream_t stream, Run&& run) noexcept {
  return with_manager(origin::call, [&](uvm::manager& m) {
    uvm::stream s;
    if (!uvm::capi::resolve(stream, s)) {
      char text[160];
      std::snprintf(text, sizeof text, "%s: not a live stream from uvmStreamCreate", fn);
      return fail(uvmErrorInvalidResourceHandle, text);
    }
    run(m, s);
    return uvmSuccess;
  });
}

// A batch call: checks the arrays, then runs `run(manager&, stream, spans)`.
template <class Run>
uvmError_t batch(const char* fn, void** dptrs, size_t* sizes, size_t count, int* locs, size_t* idxs,
                 size_t nlocs, unsigned long long flags, bool with_locations, uvmStream_t stream,
                 Run&& run) noexcept {
  std::vector<uvm::prefetch_span> spans;
  try {
    if (const uvmError_t e =
            batch_spans(fn, dptrs, sizes, count, locs, idxs, nlocs, flags, with_locations, spans);
        e != uvmSuccess) {
      return e;
    }
  } catch (...) {
    return fail(uvmErrorMemoryAllocation, fn, ": out of memory");
  }
  return on_stream(fn, stream, [&](uvm::manager& m, const uvm::stream& s) { run(m, s, spans); });
}

}  // namespace

extern "C" {

uvmError_t uvmMemPrefetchBatchAsync(void** dptrs, size_t* sizes, size_t count, int* prefetchLocs,
                                    size_t* prefetchLocIdxs, size_t numPrefetchLocs,
                                    unsigned long long flags, uvmStream_t stream) noexcept {
  return batch("uvmMemPrefetchBatchAsync", dptrs, sizes, count, prefetchLocs, prefetchLocIdxs,
               numPrefetchLocs, flags, true, stream,
               [](uvm::manager& m, const uvm::stream& s,
                  const std::vector<uvm::prefetch_span>& spans) { m.prefetch(spans, s); });
}

uvmError_t uvmMemDiscardBatchAsync(void** dptrs, size_t* sizes, size_t count,
                                   unsigned long long flags, uvmStream_t stream) noexcept {
  return batch(
      "uvmMemDiscardBatchAsync", dptrs, sizes, count, nullptr, nullptr, 0, flags, false, stream,
      [](uvm::manager& m, const uvm::stream& s, const std::vector<uvm::prefetch_span>& spans) {
        std::vector<uvm::memory_span> dead;
        dead.reserve(spans.size());
        for (const uvm::prefetch_span& p : spans) dead.push_back({p.data, p.bytes});
        m.discard(dead, s);
      });
}

uvmError_t uvmMemDiscardAndPrefetchBatchAsync(void** dptrs, size_t* sizes, size_t count,
                                              int* prefetchLocs, size_t* prefetchLocIdxs,
                                              size_t numPrefetchLocs, unsigned long long flags,
                                              uvmStream_t stream) noexcept {
  return batch(
      "uvmMemDiscardAndPrefetchBatchAsync", dptrs, sizes, count, prefetchLocs, prefetchLocIdxs,
      numPrefetchLocs, flags, true, stream,
      [](uvm::manager& m, const uvm::stream& s, const std::vector<uvm::prefetch_span>& spans) {
        m.discard_and_prefetch(spans, s);
      });
}

uvmError_t uvmStreamAttachMemAsync(uvmStream_t stream, void* devPtr, size_t length,
                                   unsigned int flags) noexcept {
  const char* fn = "uvmStreamAttachMemAsync";
  if (flags != uvmMemAttachGlobal && flags != uvmMemAttachHost && flags != uvmMemAttachSingle) {
    char text[160];
    std::snprintf(text, sizeof text,
                  "%s: flags %#x; uvmMemAttachGlobal (1), uvmMemAttachHost (2) or "
                  "uvmMemAttachSingle (4)",
                  fn, flags);
    return fail(uvmErrorInvalidValue, text);
  }
  if (flags == uvmMemAttachSingle && stream == nullptr) {
    return fail(uvmErrorInvalidValue, fn,
                ": uvmMemAttachSingle needs a stream from uvmStreamCreate, not the default one");
  }
  const uvm::attach_kind k = flags == uvmMemAttachHost     ? uvm::attach_kind::host
                             : flags == uvmMemAttachSingle ? uvm::attach_kind::single
                                                           : uvm::attach_kind::global;
  return on_stream(fn, stream,
                   [&](uvm::manager& m, const uvm::stream& s) { m.attach(devPtr, length, k, s); });
}

uvmError_t uvmMemAdvise(const void* devPtr, size_t count, uvmMemoryAdvise advice,
                        int device) noexcept {
  uvm::advice a{};
  switch (advice) {
    case uvmMemAdviseSetReadMostly: a = uvm::advice::set_read_mostly; break;
    case uvmMemAdviseUnsetReadMostly: a = uvm::advice::unset_read_mostly; break;
    case uvmMemAdviseSetPreferredLocation: a = uvm::advice::set_preferred_location; break;
    case uvmMemAdviseUnsetPreferredLocation: a = uvm::advice::unset_preferred_location; break;
    case uvmMemAdviseSetAccessedBy: a = uvm::advice::set_accessed_by; break;
    case uvmMemAdviseUnsetAccessedBy: a = uvm::advice::unset_accessed_by; break;
    default: {
      char text[96];
      std::snprintf(text, sizeof text, "uvmMemAdvise: %d is not a uvmMemoryAdvise value",
                    static_cast<int>(advice));
      return fail(uvmErrorInvalidValue, text);
    }
  }
  const bool names_location =
      a != uvm::advice::set_read_mostly && a != uvm::advice::unset_read_mostly;
  const bool device_only = a == uvm::advice::set_accessed_by || a == uvm::advice::unset_accessed_by;
  if (names_location) {
    if (const uvmError_t e = uvm::capi::check_device("uvmMemAdvise", device, !device_only);
        e != uvmSuccess) {
      return e;
    }
  }
  const uvm::location where = uvm::capi::location_of(device);
  return with_manager(origin::call, [&](uvm::manager& m) {
    m.advise(devPtr, count, a, names_location ? where : uvm::location::device(0));
    return uvmSuccess;
  });
}

namespace {
int device_id(const std::optional<uvm::location>& l) noexcept {
  if (!l) return uvmInvalidDeviceId;
  return l->is_device() ? l->device_index : uvmCpuDeviceId;
}
}  // namespace

uvmError_t uvmMemRangeGetAttribute(void* data, size_t dataSize, uvmMemRangeAttribute attribute,
                                   const void* devPtr, size_t count) noexcept {
  switch (attribute) {
    case uvmMemRangeAttributeReadMostly:
    case uvmMemRangeAttributePreferredLocation:
    case uvmMemRangeAttributeLastPrefetchLocation:
    case uvmMemRangeAttributePageState:
    case uvmMemRangeAttributeAttachment:
      if (dataSize != sizeof(int)) {
        return fail(uvmErrorInvalidValue,
                    "uvmMemRangeGetAttribute: this attribute needs dataSize == sizeof(int)");
      }
      break;
    case uvmMemRangeAttributeAccessedBy:
      if (dataSize == 0 || dataSize % sizeof(int) != 0) {
        return fail(uvmErrorInvalidValue,
                    "uvmMemRangeGetAttribute: uvmMemRangeAttributeAccessedBy needs dataSize a "
                    "non-zero multiple of sizeof(int)");
      }
      break;
    default: {
      char text[112];
      std::snprintf(text, sizeof text,
                    "uvmMemRangeGetAttribute: %d is not a uvmMemRangeAttribute value",
                    static_cast<int>(attribute));
      return fail(uvmErrorInvalidValue, text);
    }
  }
  if (data == nullptr) return fail(uvmErrorInvalidValue, "uvmMemRangeGetAttribute: data is NULL");
  if (count == 0) return fail(uvmErrorInvalidValue, "uvmMemRangeGetAttribute: count is 0");
  return with_manager(origin::call, [&](uvm::manager& m) {
    auto* out = static_cast<int*>(data);
    if (attribute == uvmMemRangeAttributePageState) {
      (void)m.range_attributes(devPtr, count);  // the span is inside one allocation
      *out = static_cast<int>(m.state_of(devPtr));
      return uvmSuccess;
    }
    const uvm::range_attributes at = m.range_attributes(devPtr, count);
    switch (attribute) {
      case uvmMemRangeAttributeReadMostly: *out = at.read_mostly ? 1 : 0; break;
      case uvmMemRangeAttributeAttachment: *out = static_cast<int>(at.attachment); break;
      case uvmMemRangeAttributePreferredLocation: *out = device_id(at.preferred_location); break;
      case uvmMemRangeAttributeLastPrefetchLocation:
        *out = device_id(at.last_prefetch_location);
        break;
      case uvmMemRangeAttributeAccessedBy: {
        const size_t n = dataSize / sizeof(int);
        size_t k = 0;
        for (int d = 0; d < 32 && k < n; ++d) {
          if ((at.accessed_by_devices & (1u << d)) != 0) out[k++] = d;
        }
        for (; k < n; ++k) out[k] = uvmInvalidDeviceId;
      } break;
      default: break;
    }
    return uvmSuccess;
  });
}

uvmError_t uvmGetDeviceCount(int* count) noexcept {
  if (count == nullptr) return fail(uvmErrorInvalidValue, "uvmGetDeviceCount: count is NULL");
  return with_manager(origin::call, [&](uvm::manager& m) {
    *count = m.device_count();
    return uvmSuccess;
  });
}

uvmError_t uvmSetDevice(int device) noexcept {
  if (const uvmError_t e = uvm::capi::check_device("uvmSetDevice", device, false);
      e != uvmSuccess) {
    return e;
  }
  uvm::capi::current_device = device;
  return uvmSuccess;
}

uvmError_t uvmGetDevice(int* device) noexcept {
  if (device == nullptr) return fail(uvmErrorInvalidValue, "uvmGetDevice: device is NULL");
  *device = uvm::capi::current_device;
  return uvmSuccess;
}

uvmError_t uvmStreamCreate(uvmStream_t* pStream) noexcept {
  if (pStream == nullptr) return fail(uvmErrorInvalidValue, "uvmStreamCreate: pStream is NULL");
  return with_manager(origin::call, [&](uvm::manager& m) {
    auto* h = new uvmStream_st{m.create_stream("uvm-c", uvm::capi::current_device)};
    try {
      uvm::capi::stream_registry& r = uvm::capi::streams();
      std::lock_guard lock(r.mutex);
      r.live.insert(h);
    } catch (...) {
      delete h;
      throw;
    }
    *pStream = h;
    return uvmSuccess;
  });
}

uvmError_t uvmStreamDestroy(uvmStream_t stream) noexcept {
  if (stream == nullptr) {
    return fail(uvmErrorInvalidResourceHandle,
                "uvmStreamDestroy: the default stream cannot be destroyed");
  }
  {
    uvm::capi::stream_registry& r = uvm::capi::streams();
    std::lock_guard lock(r.mutex);
    if (r.live.erase(stream) == 0) {
      return fail(uvmErrorInvalidResourceHandle,
                  "uvmStreamDestroy: not a live stream (destroyed already, or never created)");
    }
  }
  delete stream;  // queued work keeps its own reference to the backend stream
  return uvmSuccess;
}

uvmError_t uvmStreamSynchronize(uvmStream_t stream) noexcept {
  return uvm::capi::synchronize(stream, "uvmStreamSynchronize");
}

uvmError_t uvmDeviceSynchronize(void) noexcept {
  return uvm::capi::synchronize(nullptr, "uvmDeviceSynchronize");
}

uvmError_t uvmGetLastError(void) noexcept {
  return std::exchange(uvm::capi::last_error, uvmSuccess);
}

uvmError_t uvmPeekAtLastError(void) noexcept {
  return uvm::capi::last_error;
}

const char* uvmGetErrorString(uvmError_t error) noexcept {
  switch (error) {
    case uvmSuccess: return "no error";
    case uvmErrorInvalidValue: return "invalid argument";
    case uvmErrorMemoryAllocation: return "out of memory";
    case uvmErrorInvalidDevice: return "invalid device ordinal";
    case uvmErrorNotSupported: return "operation not supported by uvm";
    case uvmErrorDeviceFault:
      return "a kernel's access to managed memory was not served within the fault timeout";
    case uvmErrorUnknown: return "unknown error";
    case uvmErrorInvalidResourceHandle: return "invalid resource handle";
    case uvmErrorInitializationError: return "initialization error";
    case uvmErrorTimeout: return "device work did not finish in time";
  }
  return "unrecognized error code";
}

const char* uvmGetErrorName(uvmError_t error) noexcept {
  switch (error) {
    case uvmSuccess: return "uvmSuccess";
    case uvmErrorInvalidValue: return "uvmErrorInvalidValue";
    case uvmErrorMemoryAllocation: return "uvmErrorMemoryAllocation";
    case uvmErrorInvalidDevice: return "uvmErrorInvalidDevice";
    case uvmErrorNotSupported: return "uvmErrorNotSupported";
    case uvmErrorDeviceFault: return "uvmErrorDeviceFault";
    case uvmErrorUnknown: return "uvmErrorUnknown";
    case uvmErrorInvalidResourceHandle: return "uvmErrorInvalidResourceHandle";
    case uvmErrorInitializationError: return "uvmErrorInitializationError";
    case uvmErrorTimeout: return "uvmErrorTimeout";
  }
  return "unrecognized error code";
}

const char* uvmGetLastErrorMessage(void) noexcept {
  return uvm::capi::last_message;
}

}  // extern "C"
