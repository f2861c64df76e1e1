#ifndef UVM_UVM_H
#define UVM_UVM_H

/** @file
 * The C API of uvm, shaped after the CUDA runtime's managed-memory calls so that porting is a
 * rename: `cudaMallocManaged` → `uvmMallocManaged`, `cudaMemPrefetchAsync` →
 * `uvmMemPrefetchAsync`, `cudaError_t` → `uvmError_t`, and so on, with the same argument orders
 * and the same numbering for the enumerations CUDA defines.
 *
 * Every function returns an error code and never lets a C++ exception escape. The detailed text
 * of the last failure on the calling thread (the library's exception message, naming the call,
 * the address and the state found) is available from uvmGetLastErrorMessage().
 *
 * All calls use one process-wide default `uvm::manager`, created on the first call that needs it
 * (thread-safely) with `uvm::config::from_env()`, so the `UVM_*` environment variables configure
 * it (the README's "Configuration" table). It is never destroyed, so the API also works from
 * static destructors and atexit handlers; the process's exit reclaims it.
 *
 * This header is C99 and C++; it declares only C types.
 *
 * @code
 * float* x;
 * if (uvmMallocManaged((void**)&x, n * sizeof(float), uvmMemAttachGlobal) != uvmSuccess) {
 *   fprintf(stderr, "%s\n", uvmGetLastErrorMessage());
 *   return 1;
 * }
 * for (size_t i = 0; i < n; ++i) x[i] = 1.0f;               // CPU first touches
 * uvmMemPrefetchAsync(x, n * sizeof(float), 0, 0);          // to the device
 * uvmMemPrefetchAsync(x, n * sizeof(float), uvmCpuDeviceId, 0);  // and back
 * uvmFree(x);
 * @endcode
 */

#include <stddef.h>

/** In C++ every entry point is noexcept: no exception crosses the C boundary. */
#if defined(__cplusplus)
#define UVM_NOEXCEPT noexcept
#else
#define UVM_NOEXCEPT
#endif

#ifdef __cplusplus
extern "C" {
#endif

/** @brief Result of every call (cudaError_t). The first values follow CUDA's names, not its
 * numbers: compare with the names. */
typedef enum uvmError_t {
  uvmSuccess = 0,           /**< cudaSuccess */
  uvmErrorInvalidValue,     /**< cudaErrorInvalidValue: a bad pointer, size, flag or enum */
  uvmErrorMemoryAllocation, /**< cudaErrorMemoryAllocation: memory or address space exhausted */
  uvmErrorInvalidDevice, /**< cudaErrorInvalidDevice: a device number that names no device (nor -1,
                            the host, where allowed) */
  uvmErrorNotSupported,  /**< cudaErrorNotSupported: a CUDA feature uvm does not implement */
  /** A kernel's access to managed memory was not served within the fault timeout
   * (`UVM_FAULT_TIMEOUT_MS`); reported by uvmStreamSynchronize()/uvmDeviceSynchronize(). Unlike
   * CUDA's device faults it is not sticky: it is reported once and later calls work. */
  uvmErrorDeviceFault,
  uvmErrorUnknown,               /**< cudaErrorUnknown: any other failure (see the message) */
  uvmErrorInvalidResourceHandle, /**< cudaErrorInvalidResourceHandle: not a live stream */
  /** cudaErrorInitializationError: the default manager could not be created (a malformed
   * `UVM_*` variable, no usable backend); the message says why. Later calls try again. */
  uvmErrorInitializationError,
  /** Device work did not finish within the library's wait limit (5 minutes for a
   * synchronize, the fault timeout for the work queued before a prefetch). */
  uvmErrorTimeout
} uvmError_t;

/** @brief Attachment flags of uvmMallocManaged and uvmStreamAttachMemAsync, numbered as
 * cudaMemAttachGlobal, cudaMemAttachHost and cudaMemAttachSingle. They say which kernels may
 * use an allocation, so which kernels a CPU access to it waits for (uvm::attach_kind). */
enum uvmMemAttachFlags {
  uvmMemAttachGlobal = 1, /**< every kernel may use it (the default) */
  uvmMemAttachHost = 2,   /**< no kernel uses it: the CPU never waits for it */
  uvmMemAttachSingle = 4  /**< only kernels on one stream (uvmStreamAttachMemAsync) */
};

/** @brief The device number of the host, for uvmMemPrefetchAsync (cudaCpuDeviceId). Device 0
 * is the manager's device (a GPU, or the emulated device). */
enum { uvmCpuDeviceId = -1, uvmInvalidDeviceId = -2 };

/** @brief Advice for uvmMemAdvise, numbered as cudaMemoryAdvise (see uvm::advice). */
typedef enum uvmMemoryAdvise {
  uvmMemAdviseSetReadMostly = 1,
  uvmMemAdviseUnsetReadMostly = 2,
  uvmMemAdviseSetPreferredLocation = 3, /**< `device`: uvmCpuDeviceId or a device */
  uvmMemAdviseUnsetPreferredLocation = 4,
  uvmMemAdviseSetAccessedBy = 5, /**< `device`: a device (not uvmCpuDeviceId) */
  uvmMemAdviseUnsetAccessedBy = 6
} uvmMemoryAdvise;

/** @brief Attributes for uvmMemRangeGetAttribute, numbered as cudaMemRangeAttribute, plus the
 * uvm-specific page state. */
typedef enum uvmMemRangeAttribute {
  /** int: 1 if every page of the span is advised read-mostly, else 0. */
  uvmMemRangeAttributeReadMostly = 1,
  /** int: the preferred location every page shares (a device or uvmCpuDeviceId), or
   * uvmInvalidDeviceId. */
  uvmMemRangeAttributePreferredLocation = 2,
  /** int array (dataSize / 4 entries): the devices every page is accessed-by, then
   * uvmInvalidDeviceId for the rest. */
  uvmMemRangeAttributeAccessedBy = 3,
  /** int: where every page was last prefetched (a device or uvmCpuDeviceId), or uvmInvalidDeviceId.
   */
  uvmMemRangeAttributeLastPrefetchLocation = 4,
  /** uvm-specific: the uvmPageState of the page holding `devPtr`, as an int. */
  uvmMemRangeAttributePageState = 100,
  /** uvm-specific: the allocation's attachment as last asked for (a uvmMemAttachFlags value),
   * as an int. */
  uvmMemRangeAttributeAttachment = 101
} uvmMemRangeAttribute;

/** @brief The coherence state of a page (uvm::page_state, same values). */
typedef enum uvmPageState {
  uvmPageStateUnpopulated = 0,     /**< no copy yet; reads as zero */
  uvmPageStateHostExclusive = 1,   /**< valid and writable on the host */
  uvmPageStateShared = 2,          /**< read-only copies, host valid */
  uvmPageStateDeviceExclusive = 3, /**< valid only on the device */
  uvmPageStateRemote = 4,          /**< on the host, mapped by the device */
  uvmPageStateMigrating = 5        /**< a transition is under way */
} uvmPageState;

/** @brief A device stream (cudaStream_t). 0 (NULL) is the default stream. */
typedef struct uvmStream_st* uvmStream_t;

/** @brief Allocates `size` bytes of managed memory (cudaMallocManaged).
 * @param devPtr receives the address, aligned to the page size; set to NULL on failure.
 * @param size bytes; rounded up to whole pages. Nothing is populated: pages are zero-filled on
 *        first access.
 * @param flags uvmMemAttachGlobal, or uvmMemAttachHost: no kernel may use it until it is
 *        attached otherwise (uvmStreamAttachMemAsync), so the CPU never waits for it.
 * @return uvmErrorInvalidValue for a NULL `devPtr`, a `size` of 0 or other flags;
 *         uvmErrorMemoryAllocation when `size` exceeds the library's limit (1 TiB) or memory or
 *         address space is exhausted. */
uvmError_t uvmMallocManaged(void** devPtr, size_t size, unsigned int flags) UVM_NOEXCEPT;

/** @brief Frees memory from uvmMallocManaged (cudaFree).
 * @param devPtr the address uvmMallocManaged returned; NULL is a no-op that succeeds.
 * @return uvmErrorInvalidValue for any other pointer: never allocated, freed twice, or not the
 *         start of an allocation.
 * Like cudaFree it first waits for the work that may use the allocation: the kernels in flight
 * that may use it (see uvmStreamAttachMemAsync) and its queued prefetches and discards (bounded
 * by the fault timeout; past it the memory stays mapped, with an error log). */
uvmError_t uvmFree(void* devPtr) UVM_NOEXCEPT;

/** @brief Moves the pages overlapping [devPtr, devPtr + count) to `dstDevice`
 * (cudaMemPrefetchAsync), asynchronously: the move runs once the work queued on `stream` before
 * it has finished, and the work queued on `stream` after it starts once the pages are in place.
 * uvmStreamSynchronize(stream) waits for it and reports its errors.
 * @param dstDevice a device, 0 to uvmGetDeviceCount() - 1, or uvmCpuDeviceId for the host.
 * @return uvmErrorInvalidDevice for any other device number; uvmErrorInvalidValue for a
 *         `count` of 0 or a span not inside one allocation; uvmErrorInvalidResourceHandle for
 *         a stream that is not live.
 * Difference: to the device, only as many pages as the device budget holds move. */
uvmError_t uvmMemPrefetchAsync(const void* devPtr, size_t count, int dstDevice,
                               uvmStream_t stream) UVM_NOEXCEPT;

/** @brief Prefetches a batch of spans with one stream operation (cudaMemPrefetchBatchAsync):
 * the batch runs in stream order, its spans in any order.
 * @param dptrs, sizes `count` spans, each inside one allocation.
 * @param prefetchLocs the locations (devices or uvmCpuDeviceId: uvm's device numbers, where CUDA
 *        takes cudaMemLocation); prefetchLocs[k] applies to spans prefetchLocIdxs[k] up to
 *        prefetchLocIdxs[k + 1] - 1 (the last one up to count - 1).
 * @param prefetchLocIdxs starts with 0, strictly increasing, each below `count`.
 * @param numPrefetchLocs between 1 and `count`.
 * @param flags must be 0.
 * @return uvmErrorInvalidValue for NULL arrays, a `count` of 0, bad indices, non-zero flags or
 *         a bad span (nothing is queued); uvmErrorInvalidDevice for another location;
 *         uvmErrorInvalidResourceHandle for a stream that is not live.
 * Difference: CUDA refuses it where concurrentManagedAccess is 0; uvm serves exactly those
 * platforms. */
uvmError_t uvmMemPrefetchBatchAsync(void** dptrs, size_t* sizes, size_t count, int* prefetchLocs,
                                    size_t* prefetchLocIdxs, size_t numPrefetchLocs,
                                    unsigned long long flags, uvmStream_t stream) UVM_NOEXCEPT;

/** @brief The contents of the spans are dead (cudaMemDiscardBatchAsync): in stream order, their
 * pages are dropped wherever they are, never copied back, and read as zeros on the next touch.
 * Only pages wholly inside a span are discarded. It first waits for the kernels in flight that
 * may use them. Errors when it runs (a page pinned by uvm::manager::pin_resident) are reported
 * by uvmStreamSynchronize.
 * @return as uvmMemPrefetchBatchAsync for the arguments it shares. */
uvmError_t uvmMemDiscardBatchAsync(void** dptrs, size_t* sizes, size_t count,
                                   unsigned long long flags, uvmStream_t stream) UVM_NOEXCEPT;

/** @brief Discards the spans, then prefetches them (cudaMemDiscardAndPrefetchBatchAsync), in
 * one stream operation: nothing is copied back; pages prefetched to the device are zero-filled
 * there. Arguments and errors as uvmMemPrefetchBatchAsync. */
uvmError_t uvmMemDiscardAndPrefetchBatchAsync(void** dptrs, size_t* sizes, size_t count,
                                              int* prefetchLocs, size_t* prefetchLocIdxs,
                                              size_t numPrefetchLocs, unsigned long long flags,
                                              uvmStream_t stream) UVM_NOEXCEPT;

/** @brief Attaches an allocation to a stream, or to the host, or back to every stream
 * (cudaStreamAttachMemAsync), in stream order: once the work queued on `stream` before it has
 * finished. Memory attached uvmMemAttachSingle is used only by kernels on `stream`, so a CPU
 * access to it waits only for that stream's kernels; uvmMemAttachHost memory is used by no
 * kernel (a kernel that accesses it gets uvmErrorDeviceFault from the next synchronize, naming
 * the allocation); uvmMemAttachGlobal memory may be used by every kernel.
 * @param devPtr the start of an allocation from uvmMallocManaged.
 * @param length 0 or the allocation's size (attachment is per allocation, as CUDA requires
 *        where concurrentManagedAccess is 0).
 * @param flags uvmMemAttachGlobal, uvmMemAttachHost or uvmMemAttachSingle.
 * @return uvmErrorInvalidValue for another pointer, length or flag, or uvmMemAttachSingle on
 *         the default stream (0); uvmErrorInvalidResourceHandle for a stream that is not live. */
uvmError_t uvmStreamAttachMemAsync(uvmStream_t stream, void* devPtr, size_t length,
                                   unsigned int flags) UVM_NOEXCEPT;

/** @brief Gives advice on the pages overlapping [devPtr, devPtr + count) (cudaMemAdvise).
 * @param device the location preferred-location and accessed-by advice name: a device (0 to
 *        uvmGetDeviceCount() - 1) or uvmCpuDeviceId; ignored for the read-mostly advice, as in
 *        CUDA.
 * @return uvmErrorInvalidDevice for another `device` where it matters (accessed-by needs a
 *         device);
 *         uvmErrorInvalidValue for an unknown `advice`, a `count` of 0 or a span not inside one
 *         allocation. */
uvmError_t uvmMemAdvise(const void* devPtr, size_t count, uvmMemoryAdvise advice,
                        int device) UVM_NOEXCEPT;

/** @brief Queries an attribute of managed memory (cudaMemRangeGetAttribute).
 * @param data receives the value: an int, or an int array for uvmMemRangeAttributeAccessedBy.
 * @param dataSize sizeof(int), or a multiple of it for uvmMemRangeAttributeAccessedBy.
 * @param attribute see uvmMemRangeAttribute; uvmMemRangeAttributePageState (uvm's own) gives the
 *        state of the page holding `devPtr` at the time of the call (it can change at once).
 * @param count at least 1; [devPtr, devPtr + count) must be inside one allocation.
 * @return uvmErrorInvalidValue for a NULL `data`, a wrong `dataSize`, a `count` of 0, an unknown
 *         attribute, or memory that is not managed. */
uvmError_t uvmMemRangeGetAttribute(void* data, size_t dataSize, uvmMemRangeAttribute attribute,
                                   const void* devPtr, size_t count) UVM_NOEXCEPT;

/** @brief How many devices the manager drives (cudaGetDeviceCount).
 * @return uvmErrorInvalidValue for a NULL `count`. */
uvmError_t uvmGetDeviceCount(int* count) UVM_NOEXCEPT;

/** @brief Makes `device` the calling thread's device (cudaSetDevice): streams it creates
 * belong to it. Each thread starts on device 0.
 * @return uvmErrorInvalidDevice for a device outside 0 to uvmGetDeviceCount() - 1. */
uvmError_t uvmSetDevice(int device) UVM_NOEXCEPT;

/** @brief The calling thread's device (cudaGetDevice).
 * @return uvmErrorInvalidValue for a NULL `device`. */
uvmError_t uvmGetDevice(int* device) UVM_NOEXCEPT;

/** @brief Creates a stream (cudaStreamCreate) on the calling thread's device (uvmSetDevice);
 * work on different streams may overlap.
 * @return uvmErrorInvalidValue for a NULL `pStream`. */
uvmError_t uvmStreamCreate(uvmStream_t* pStream) UVM_NOEXCEPT;

/** @brief Destroys a stream from uvmStreamCreate (cudaStreamDestroy). Work already queued on it
 * still completes.
 * @return uvmErrorInvalidResourceHandle for the default stream or a stream that is not live
 *         (already destroyed, never created). */
uvmError_t uvmStreamDestroy(uvmStream_t stream) UVM_NOEXCEPT;

/** @brief Waits for the work queued on `stream`: its kernels, prefetches and discards
 * (cudaStreamSynchronize); on the default stream (0), for all device work. A failed queued
 * prefetch or discard is reported here (uvmErrorUnknown, with its message).
 * @return uvmErrorDeviceFault if a kernel access was not served within the fault timeout (the
 *         message names the page and allocation); uvmErrorTimeout if the work did not finish
 *         within 5 minutes; uvmErrorInvalidResourceHandle for a stream that is not live. */
uvmError_t uvmStreamSynchronize(uvmStream_t stream) UVM_NOEXCEPT;

/** @brief Waits for all device work (cudaDeviceSynchronize); errors as uvmStreamSynchronize. */
uvmError_t uvmDeviceSynchronize(void) UVM_NOEXCEPT;

/** @brief Returns the last error of a call on this thread and resets it to uvmSuccess
 * (cudaGetLastError). Successful calls do not reset it. */
uvmError_t uvmGetLastError(void) UVM_NOEXCEPT;

/** @brief Returns the last error of a call on this thread without resetting it
 * (cudaPeekAtLastError). */
uvmError_t uvmPeekAtLastError(void) UVM_NOEXCEPT;

/** @brief A description of `error` (cudaGetErrorString); "unrecognized error code" for a value
 * outside uvmError_t. The string is static. */
const char* uvmGetErrorString(uvmError_t error) UVM_NOEXCEPT;

/** @brief The enumerator's name, e.g. "uvmErrorInvalidValue" (cudaGetErrorName);
 * "unrecognized error code" for a value outside uvmError_t. The string is static. */
const char* uvmGetErrorName(uvmError_t error) UVM_NOEXCEPT;

/** @brief uvm-specific: the detailed message of the last failing call on this thread (the C++
 * exception's what(), or the C layer's own check), "" if none has failed. uvmGetLastError() does
 * not clear it. The string belongs to the thread and stays valid until its next failing call
 * (or its exit). Messages longer than 1023 bytes are truncated. */
const char* uvmGetLastErrorMessage(void) UVM_NOEXCEPT;

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* UVM_UVM_H */
