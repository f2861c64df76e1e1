/* The C API (uvm/uvm.h) exercised from a C translation unit. Each function returns 0 when every
 * check holds, or the line number of the first check that failed; tests/c_api_test.cpp runs
 * them under GoogleTest. */
#include <uvm/uvm.h>

#include <stdint.h>
#include <string.h>

#define CHECK(cond)               \
  do {                            \
    if (!(cond)) return __LINE__; \
  } while (0)

/* The state of the page holding p, or -1 if the query fails. */
static int page_state(const void* p) {
  int s = -1;
  if (uvmMemRangeGetAttribute(&s, sizeof s, uvmMemRangeAttributePageState, p, 1) != uvmSuccess) {
    return -1;
  }
  return s;
}

int c_api_alloc_write_prefetch_both_ways(void) {
  const size_t n = (size_t)1 << 18; /* 1 MiB of int */
  int* x = NULL;
  size_t i;
  CHECK(uvmMallocManaged((void**)&x, n * sizeof(int), uvmMemAttachGlobal) == uvmSuccess);
  CHECK(x != NULL);
  CHECK(page_state(x) == uvmPageStateUnpopulated);
  for (i = 0; i < n; ++i) x[i] = (int)i;
  CHECK(page_state(x) == uvmPageStateHostExclusive);
  CHECK(page_state(x + n - 1) == uvmPageStateHostExclusive);

  CHECK(uvmMemPrefetchAsync(x, n * sizeof(int), 0, 0) == uvmSuccess);
  CHECK(uvmDeviceSynchronize() == uvmSuccess); /* the prefetch is stream-ordered */
  CHECK(page_state(x) == uvmPageStateDeviceExclusive);
  CHECK(page_state(x + n - 1) == uvmPageStateDeviceExclusive);

  CHECK(uvmMemPrefetchAsync(x, n * sizeof(int), uvmCpuDeviceId, 0) == uvmSuccess);
  CHECK(uvmDeviceSynchronize() == uvmSuccess);
  CHECK(page_state(x) == uvmPageStateHostExclusive);
  for (i = 0; i < n; ++i) CHECK(x[i] == (int)i);

  CHECK(uvmFree(x) == uvmSuccess);
  CHECK(uvmPeekAtLastError() == uvmSuccess);
  return 0;
}

int c_api_streams(void) {
  const size_t bytes = (size_t)1 << 20;
  unsigned char* x = NULL;
  uvmStream_t s = NULL;
  CHECK(uvmMallocManaged((void**)&x, bytes, uvmMemAttachGlobal) == uvmSuccess);
  memset(x, 7, bytes);
  CHECK(uvmStreamCreate(&s) == uvmSuccess);
  CHECK(s != NULL);
  CHECK(uvmMemPrefetchAsync(x, bytes, 0, s) == uvmSuccess);
  CHECK(uvmStreamSynchronize(s) == uvmSuccess);
  CHECK(page_state(x) == uvmPageStateDeviceExclusive);
  CHECK(uvmMemPrefetchAsync(x, bytes, uvmCpuDeviceId, s) == uvmSuccess);
  CHECK(x[bytes - 1] == 7);
  CHECK(uvmStreamSynchronize(0) == uvmSuccess);
  CHECK(uvmStreamDestroy(s) == uvmSuccess);

  /* A destroyed stream, the default stream, NULL out-parameter. */
  CHECK(uvmStreamDestroy(s) == uvmErrorInvalidResourceHandle);
  CHECK(uvmStreamSynchronize(s) == uvmErrorInvalidResourceHandle);
  CHECK(uvmMemPrefetchAsync(x, bytes, 0, s) == uvmErrorInvalidResourceHandle);
  CHECK(uvmStreamDestroy(0) == uvmErrorInvalidResourceHandle);
  CHECK(uvmStreamCreate(NULL) == uvmErrorInvalidValue);
  CHECK(uvmFree(x) == uvmSuccess);
  (void)uvmGetLastError();
  return 0;
}

int c_api_advise_read_mostly(void) {
  const size_t bytes = (size_t)1 << 20;
  unsigned char* x = NULL;
  unsigned char* y = NULL;
  volatile unsigned char sink;
  int v = -1;
  CHECK(uvmMallocManaged((void**)&x, bytes, uvmMemAttachGlobal) == uvmSuccess);
  CHECK(uvmMallocManaged((void**)&y, bytes, uvmMemAttachGlobal) == uvmSuccess);
  memset(x, 1, bytes);
  memset(y, 1, bytes);
  CHECK(uvmMemAdvise(x, bytes, uvmMemAdviseSetReadMostly, 0) == uvmSuccess);
  CHECK(uvmMemPrefetchAsync(x, bytes, 0, 0) == uvmSuccess);
  CHECK(uvmMemPrefetchAsync(y, bytes, 0, 0) == uvmSuccess);
  CHECK(uvmDeviceSynchronize() == uvmSuccess);
  /* Read-mostly pages are duplicated, read-only on both sides, as in CUDA; others move. */
  CHECK(page_state(x) == uvmPageStateShared);
  CHECK(page_state(y) == uvmPageStateDeviceExclusive);

  /* A CPU read keeps the duplicate; without the advice the page moves back (under userfaultfd
     as a read-only duplicate of its own, the device copy still valid). */
  sink = x[0];
  CHECK(sink == 1);
  CHECK(page_state(x) == uvmPageStateShared);
  sink = y[0];
  CHECK(sink == 1);
  CHECK(page_state(y) == uvmPageStateHostExclusive || page_state(y) == uvmPageStateShared);
  x[0] = 2; /* the first write upgrades the page */
  CHECK(page_state(x) == uvmPageStateHostExclusive);

  CHECK(uvmMemAdvise(x, bytes, uvmMemAdviseUnsetReadMostly, 0) == uvmSuccess);
  CHECK(uvmMemPrefetchAsync(x, bytes, 0, 0) == uvmSuccess);
  CHECK(uvmDeviceSynchronize() == uvmSuccess);
  CHECK(page_state(x) == uvmPageStateDeviceExclusive);
  sink = x[0];
  CHECK(sink == 2);
  CHECK(page_state(x) == uvmPageStateHostExclusive || page_state(x) == uvmPageStateShared);

  /* Advice on a span that is empty or not managed. */
  CHECK(uvmMemAdvise(x, 0, uvmMemAdviseSetReadMostly, 0) == uvmErrorInvalidValue);
  CHECK(uvmMemAdvise(&v, sizeof v, uvmMemAdviseSetReadMostly, 0) == uvmErrorInvalidValue);
  CHECK(uvmMemAdvise(x, bytes + 1, uvmMemAdviseSetReadMostly, 0) == uvmErrorInvalidValue);

  /* The read-mostly attribute: x's advice was unset; y's first half is advised. */
  CHECK(uvmMemRangeGetAttribute(&v, sizeof v, uvmMemRangeAttributeReadMostly, x, bytes) ==
        uvmSuccess);
  CHECK(v == 0);
  CHECK(uvmMemAdvise(y, bytes / 2, uvmMemAdviseSetReadMostly, 0) == uvmSuccess);
  CHECK(uvmMemRangeGetAttribute(&v, sizeof v, uvmMemRangeAttributeReadMostly, y, bytes / 2) ==
        uvmSuccess);
  CHECK(v == 1);
  CHECK(uvmMemRangeGetAttribute(&v, sizeof v, uvmMemRangeAttributeReadMostly, y, bytes) ==
        uvmSuccess);
  CHECK(v == 0);

  CHECK(uvmFree(x) == uvmSuccess);
  CHECK(uvmFree(y) == uvmSuccess);
  (void)uvmGetLastError();
  return 0;
}

int c_api_page_state_attribute_errors(void) {
  const size_t bytes = (size_t)1 << 20;
  unsigned char* x = NULL;
  int v = -1;
  long long wide = -1;
  int local = 0;
  CHECK(uvmMallocManaged((void**)&x, bytes, uvmMemAttachGlobal) == uvmSuccess);
  CHECK(uvmMemRangeGetAttribute(&v, sizeof v, uvmMemRangeAttributePageState, x, bytes) ==
        uvmSuccess);
  CHECK(v == uvmPageStateUnpopulated);
  CHECK(uvmMemRangeGetAttribute(NULL, sizeof v, uvmMemRangeAttributePageState, x, 1) ==
        uvmErrorInvalidValue);
  CHECK(uvmMemRangeGetAttribute(&wide, sizeof wide, uvmMemRangeAttributePageState, x, 1) ==
        uvmErrorInvalidValue);
  CHECK(uvmMemRangeGetAttribute(&v, sizeof v, uvmMemRangeAttributePageState, x, 0) ==
        uvmErrorInvalidValue);
  CHECK(uvmMemRangeGetAttribute(&v, sizeof v, uvmMemRangeAttributePageState, &local, 1) ==
        uvmErrorInvalidValue);
  CHECK(uvmMemRangeGetAttribute(&v, sizeof v, uvmMemRangeAttributePageState, x, bytes + 1) ==
        uvmErrorInvalidValue);
  CHECK(uvmMemRangeGetAttribute(&v, sizeof v, (uvmMemRangeAttribute)99, x, 1) ==
        uvmErrorInvalidValue);
  CHECK(uvmMemRangeGetAttribute(&v, sizeof v, uvmMemRangeAttributeLastPrefetchLocation, x, 1) ==
        uvmSuccess);
  CHECK(v == uvmInvalidDeviceId); /* never prefetched */
  CHECK(uvmMemRangeGetAttribute(&v, 3, uvmMemRangeAttributeAccessedBy, x, 1) ==
        uvmErrorInvalidValue);
  CHECK(uvmFree(x) == uvmSuccess);
  /* A freed allocation is no longer managed memory. */
  CHECK(uvmMemRangeGetAttribute(&v, sizeof v, uvmMemRangeAttributePageState, x, 1) ==
        uvmErrorInvalidValue);
  (void)uvmGetLastError();
  return 0;
}

int c_api_malloc_errors(void) {
  void* p = (void*)&p;
  CHECK(uvmMallocManaged(&p, 0, uvmMemAttachGlobal) == uvmErrorInvalidValue);
  CHECK(p == NULL);
  CHECK(uvmMallocManaged(&p, 4096, 0) == uvmErrorInvalidValue);
  CHECK(uvmMallocManaged(&p, 4096, uvmMemAttachSingle) == uvmErrorInvalidValue); /* as CUDA */
  CHECK(uvmMallocManaged(&p, 4096, uvmMemAttachGlobal | uvmMemAttachHost) == uvmErrorInvalidValue);
  CHECK(uvmMallocManaged(NULL, 4096, uvmMemAttachGlobal) == uvmErrorInvalidValue);
  CHECK(uvmMallocManaged(&p, SIZE_MAX, uvmMemAttachGlobal) == uvmErrorMemoryAllocation);
  CHECK(p == NULL);
  CHECK(uvmGetLastError() == uvmErrorMemoryAllocation);
  return 0;
}

int c_api_free_errors(void) {
  char* x = NULL;
  int local = 0;
  CHECK(uvmFree(NULL) == uvmSuccess);
  CHECK(uvmMallocManaged((void**)&x, 1 << 16, uvmMemAttachGlobal) == uvmSuccess);
  CHECK(uvmFree(&local) == uvmErrorInvalidValue); /* never allocated */
  CHECK(uvmFree(x + 64) == uvmErrorInvalidValue); /* not the start of an allocation */
  CHECK(uvmFree(x) == uvmSuccess);
  CHECK(uvmFree(x) == uvmErrorInvalidValue); /* double free */
  CHECK(strstr(uvmGetLastErrorMessage(), "free") != NULL);
  CHECK(uvmGetLastError() == uvmErrorInvalidValue);
  return 0;
}

int c_api_bad_device_and_span(void) {
  const size_t bytes = (size_t)1 << 16;
  char* x = NULL;
  int local = 0;
  CHECK(uvmMallocManaged((void**)&x, bytes, uvmMemAttachGlobal) == uvmSuccess);
  int devices = 0;
  int current = -5;
  CHECK(uvmGetDeviceCount(&devices) == uvmSuccess && devices == 1);
  CHECK(uvmGetDeviceCount(NULL) == uvmErrorInvalidValue);
  CHECK(uvmSetDevice(1) == uvmErrorInvalidDevice);
  CHECK(uvmSetDevice(uvmCpuDeviceId) == uvmErrorInvalidDevice);
  CHECK(uvmSetDevice(0) == uvmSuccess);
  CHECK(uvmGetDevice(&current) == uvmSuccess && current == 0);
  CHECK(uvmMemPrefetchAsync(x, bytes, 1, 0) == uvmErrorInvalidDevice);
  CHECK(strstr(uvmGetLastErrorMessage(), "device 1") != NULL);
  CHECK(uvmMemPrefetchAsync(x, bytes, -2, 0) == uvmErrorInvalidDevice);
  CHECK(uvmMemPrefetchAsync(x, 0, 0, 0) == uvmErrorInvalidValue);
  CHECK(uvmMemPrefetchAsync(x, bytes + 1, 0, 0) == uvmErrorInvalidValue);
  CHECK(uvmMemPrefetchAsync(&local, sizeof local, 0, 0) == uvmErrorInvalidValue);
  CHECK(uvmMemPrefetchAsync(NULL, bytes, uvmCpuDeviceId, 0) == uvmErrorInvalidValue);
  CHECK(uvmFree(x) == uvmSuccess);
  (void)uvmGetLastError();
  return 0;
}

int c_api_advice_and_attributes(void) {
  /* Every cudaMemoryAdvise value is implemented; the attributes report it back. */
  const size_t bytes = (size_t)1 << 16;
  char* x = NULL;
  int v = 0;
  int by[4] = {0, 0, 0, 0};
  CHECK(uvmMallocManaged((void**)&x, bytes, uvmMemAttachGlobal) == uvmSuccess);
  CHECK(uvmMemAdvise(x, bytes, uvmMemAdviseSetPreferredLocation, uvmCpuDeviceId) == uvmSuccess);
  CHECK(uvmMemRangeGetAttribute(&v, sizeof v, uvmMemRangeAttributePreferredLocation, x, bytes) ==
        uvmSuccess);
  CHECK(v == uvmCpuDeviceId);
  CHECK(uvmMemAdvise(x, bytes, uvmMemAdviseSetPreferredLocation, 0) == uvmSuccess);
  CHECK(uvmMemRangeGetAttribute(&v, sizeof v, uvmMemRangeAttributePreferredLocation, x, bytes) ==
        uvmSuccess);
  CHECK(v == 0);
  CHECK(uvmMemAdvise(x, bytes, uvmMemAdviseUnsetPreferredLocation, 0) == uvmSuccess);
  CHECK(uvmMemRangeGetAttribute(&v, sizeof v, uvmMemRangeAttributePreferredLocation, x, bytes) ==
        uvmSuccess);
  CHECK(v == uvmInvalidDeviceId);
  CHECK(uvmMemAdvise(x, bytes, uvmMemAdviseSetAccessedBy, 0) == uvmSuccess);
  CHECK(uvmMemRangeGetAttribute(by, sizeof by, uvmMemRangeAttributeAccessedBy, x, bytes) ==
        uvmSuccess);
  CHECK(by[0] == 0 && by[1] == uvmInvalidDeviceId && by[3] == uvmInvalidDeviceId);
  CHECK(uvmMemAdvise(x, bytes, uvmMemAdviseUnsetAccessedBy, 0) == uvmSuccess);
  CHECK(uvmMemRangeGetAttribute(by, sizeof by, uvmMemRangeAttributeAccessedBy, x, bytes) ==
        uvmSuccess);
  CHECK(by[0] == uvmInvalidDeviceId);
  /* Accessed-by names a device; the device must exist. */
  CHECK(uvmMemAdvise(x, bytes, uvmMemAdviseSetAccessedBy, uvmCpuDeviceId) == uvmErrorInvalidDevice);
  CHECK(uvmMemAdvise(x, bytes, uvmMemAdviseSetPreferredLocation, 5) == uvmErrorInvalidDevice);
  CHECK(uvmMemPrefetchAsync(x, bytes, 0, 0) == uvmSuccess);
  CHECK(uvmDeviceSynchronize() == uvmSuccess);
  CHECK(uvmMemRangeGetAttribute(&v, sizeof v, uvmMemRangeAttributeLastPrefetchLocation, x, bytes) ==
        uvmSuccess);
  CHECK(v == 0);
  CHECK(strcmp(uvmGetErrorName(uvmErrorNotSupported), "uvmErrorNotSupported") == 0);
  CHECK(uvmMemAdvise(x, bytes, (uvmMemoryAdvise)0, 0) == uvmErrorInvalidValue);
  CHECK(uvmMemAdvise(x, bytes, (uvmMemoryAdvise)7, 0) == uvmErrorInvalidValue);
  CHECK(uvmFree(x) == uvmSuccess);
  (void)uvmGetLastError();
  return 0;
}

int c_api_last_error_semantics(void) {
  void* p = NULL;
  (void)uvmGetLastError();
  CHECK(uvmPeekAtLastError() == uvmSuccess);
  CHECK(uvmMallocManaged(&p, 0, uvmMemAttachGlobal) == uvmErrorInvalidValue);
  CHECK(strstr(uvmGetLastErrorMessage(), "size is 0") != NULL);
  /* Peek does not reset; a successful call does not reset either. */
  CHECK(uvmPeekAtLastError() == uvmErrorInvalidValue);
  CHECK(uvmPeekAtLastError() == uvmErrorInvalidValue);
  CHECK(uvmMallocManaged(&p, 4096, uvmMemAttachGlobal) == uvmSuccess);
  CHECK(uvmFree(p) == uvmSuccess);
  CHECK(uvmPeekAtLastError() == uvmErrorInvalidValue);
  /* Get returns it once and resets; the detailed message stays until the next failure. */
  CHECK(uvmGetLastError() == uvmErrorInvalidValue);
  CHECK(uvmGetLastError() == uvmSuccess);
  CHECK(uvmPeekAtLastError() == uvmSuccess);
  CHECK(strstr(uvmGetLastErrorMessage(), "size is 0") != NULL);
  /* The latest failure wins. */
  CHECK(uvmFree(&p) == uvmErrorInvalidValue);
  CHECK(uvmMemPrefetchAsync(&p, 1, 3, 0) == uvmErrorInvalidDevice);
  CHECK(uvmGetLastError() == uvmErrorInvalidDevice);
  CHECK(uvmGetLastError() == uvmSuccess);

  CHECK(strcmp(uvmGetErrorName(uvmSuccess), "uvmSuccess") == 0);
  CHECK(strcmp(uvmGetErrorName(uvmErrorDeviceFault), "uvmErrorDeviceFault") == 0);
  CHECK(strcmp(uvmGetErrorName(uvmErrorInvalidDevice), "uvmErrorInvalidDevice") == 0);
  CHECK(strcmp(uvmGetErrorString(uvmSuccess), "no error") == 0);
  CHECK(strcmp(uvmGetErrorString(uvmErrorInvalidValue), "invalid argument") == 0);
  CHECK(strcmp(uvmGetErrorString((uvmError_t)12345), "unrecognized error code") == 0);
  CHECK(strcmp(uvmGetErrorName((uvmError_t)-1), "unrecognized error code") == 0);
  return 0;
}

static int attachment(const void* p) {
  int a = -1;
  if (uvmMemRangeGetAttribute(&a, sizeof a, uvmMemRangeAttributeAttachment, p, 1) != uvmSuccess) {
    return -1;
  }
  return a;
}

int c_api_attach_and_batches(void) {
  const size_t bytes = (size_t)1 << 20;
  unsigned char* x = NULL;
  unsigned char* y = NULL;
  uvmStream_t s = NULL;
  CHECK(uvmStreamCreate(&s) == uvmSuccess);
  CHECK(uvmMallocManaged((void**)&x, bytes, uvmMemAttachHost) == uvmSuccess);
  CHECK(uvmMallocManaged((void**)&y, bytes, uvmMemAttachGlobal) == uvmSuccess);
  CHECK(attachment(x) == uvmMemAttachHost);
  CHECK(attachment(y) == uvmMemAttachGlobal);
  memset(x, 3, bytes);
  memset(y, 4, bytes);

  /* Attachment: whole allocations, known flags, single needs a created stream. */
  CHECK(uvmStreamAttachMemAsync(s, x, 0, uvmMemAttachSingle) == uvmSuccess);
  CHECK(uvmStreamSynchronize(s) == uvmSuccess);
  CHECK(attachment(x) == uvmMemAttachSingle);
  CHECK(uvmStreamAttachMemAsync(s, x, bytes, uvmMemAttachGlobal) == uvmSuccess);
  CHECK(attachment(x) == uvmMemAttachGlobal);
  CHECK(uvmStreamAttachMemAsync(s, x + 4096, 0, uvmMemAttachHost) == uvmErrorInvalidValue);
  CHECK(uvmStreamAttachMemAsync(s, x, 4096, uvmMemAttachHost) == uvmErrorInvalidValue);
  CHECK(uvmStreamAttachMemAsync(s, x, 0, 3) == uvmErrorInvalidValue);
  CHECK(uvmStreamAttachMemAsync(0, x, 0, uvmMemAttachSingle) == uvmErrorInvalidValue);
  CHECK(uvmStreamAttachMemAsync(s, &s, 0, uvmMemAttachHost) == uvmErrorInvalidValue);

  /* A batch: x to the device, y too, then both back. */
  {
    void* ptrs[2] = {x, y};
    size_t sizes[2] = {bytes, bytes};
    int to_device[1] = {0};
    int split[2] = {0, uvmCpuDeviceId};
    size_t first[1] = {0};
    size_t idx[2] = {0, 1};
    CHECK(uvmMemPrefetchBatchAsync(ptrs, sizes, 2, to_device, first, 1, 0, s) == uvmSuccess);
    CHECK(uvmStreamSynchronize(s) == uvmSuccess);
    CHECK(page_state(x) == uvmPageStateDeviceExclusive);
    CHECK(page_state(y) == uvmPageStateDeviceExclusive);
    CHECK(uvmMemPrefetchBatchAsync(ptrs, sizes, 2, split, idx, 2, 0, s) == uvmSuccess);
    CHECK(uvmStreamSynchronize(s) == uvmSuccess);
    CHECK(page_state(x) == uvmPageStateDeviceExclusive);
    CHECK(page_state(y) == uvmPageStateHostExclusive);
    CHECK(y[bytes - 1] == 4);
    /* The index rules of CUDA's batch calls, and flags 0. */
    CHECK(uvmMemPrefetchBatchAsync(ptrs, sizes, 2, to_device, first, 1, 1, s) ==
          uvmErrorInvalidValue);
    CHECK(uvmMemPrefetchBatchAsync(ptrs, sizes, 0, to_device, first, 1, 0, s) ==
          uvmErrorInvalidValue);
    CHECK(uvmMemPrefetchBatchAsync(ptrs, sizes, 2, to_device, idx + 1, 1, 0, s) ==
          uvmErrorInvalidValue); /* the first index must be 0 */
    {
      size_t repeat[2] = {0, 0};
      CHECK(uvmMemPrefetchBatchAsync(ptrs, sizes, 2, split, repeat, 2, 0, s) ==
            uvmErrorInvalidValue);
    }
    {
      int bad[1] = {7};
      CHECK(uvmMemPrefetchBatchAsync(ptrs, sizes, 2, bad, first, 1, 0, s) == uvmErrorInvalidDevice);
    }
    CHECK(uvmMemPrefetchBatchAsync(NULL, sizes, 2, to_device, first, 1, 0, s) ==
          uvmErrorInvalidValue);

    /* Discard: x's pages on the device are dropped, no copy back, zeros. */
    CHECK(uvmMemDiscardBatchAsync(ptrs, sizes, 1, 0, s) == uvmSuccess);
    CHECK(uvmStreamSynchronize(s) == uvmSuccess);
    CHECK(page_state(x) == uvmPageStateUnpopulated);
    CHECK(x[0] == 0 && x[bytes - 1] == 0);
    CHECK(uvmMemDiscardBatchAsync(ptrs, sizes, 1, 2, s) == uvmErrorInvalidValue);
    CHECK(uvmMemDiscardAndPrefetchBatchAsync(ptrs + 1, sizes + 1, 1, to_device, first, 1, 0, s) ==
          uvmSuccess);
    CHECK(uvmStreamSynchronize(s) == uvmSuccess);
    CHECK(page_state(y) == uvmPageStateDeviceExclusive);
    CHECK(y[0] == 0);
  }
  CHECK(uvmFree(x) == uvmSuccess);
  CHECK(uvmFree(y) == uvmSuccess);
  CHECK(uvmStreamDestroy(s) == uvmSuccess);
  return 0;
}
