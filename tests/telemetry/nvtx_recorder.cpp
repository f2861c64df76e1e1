// An NVTX injection library, as Nsight Systems attaches through NVTX_INJECTION64_PATH: it fills
// the export table's callbacks (domains, categories, registered strings, ranges pushed and
// popped, started and ended, marks, thread and stream names) and records each event as a line of
// text in memory. nvtx_injection_test reads the lines back with uvm_nvtx_recorder_events().
//
// One line per event, fields separated by '\t':
//   domain <id> <name>            category <domain> <id> <name>     thread <tid> <name>
//   stream <name>                 push <domain> <tid> <depth> <category> <payload|-> <message>
//   pop <domain> <tid> <depth>    start/end, mark: as push, without depth
#include <nvtx3/nvToolsExt.h>
#include <nvtx3/nvToolsExtCudaRt.h>

#include <cstdint>
#include <cstdio>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include <sys/syscall.h>
#include <unistd.h>

namespace {

std::mutex mutex;
std::string events;                          // guarded by mutex
std::vector<std::string> domains{"(none)"};  // handle = index; 0 is the global domain
std::vector<std::string> strings{""};        // registered strings; handle = index
std::map<std::uint64_t, int> depth;          // per thread, pushes not yet popped

std::uint64_t tid() {
  return static_cast<std::uint64_t>(syscall(SYS_gettid));
}

std::uintptr_t id_of(nvtxDomainHandle_t d) {
  return reinterpret_cast<std::uintptr_t>(d);
}

void add(const std::string& line) {  // caller holds mutex
  events += line;
  events += '\n';
}

std::string describe(const nvtxEventAttributes_t* a) {  // caller holds mutex
  if (a == nullptr) return "0\t-\t";
  std::string payload = "-";
  if (a->payloadType == NVTX_PAYLOAD_TYPE_UNSIGNED_INT64) {
    payload = std::to_string(a->payload.ullValue);
  } else if (a->payloadType == NVTX_PAYLOAD_TYPE_INT64) {
    payload = std::to_string(a->payload.llValue);
  }
  std::string message;
  if (a->messageType == NVTX_MESSAGE_TYPE_ASCII && a->message.ascii != nullptr) {
    message = a->message.ascii;
  } else if (a->messageType == NVTX_MESSAGE_TYPE_REGISTERED) {
    const auto h = reinterpret_cast<std::uintptr_t>(a->message.registered);
    message = h < strings.size() ? strings[h] : "(unknown registered string)";
  }
  return std::to_string(a->category) + "\t" + payload + "\t" + message;
}

nvtxDomainHandle_t domain_create(const char* name) {
  const std::lock_guard lock(mutex);
  domains.emplace_back(name != nullptr ? name : "");
  add("domain\t" + std::to_string(domains.size() - 1) + "\t" + domains.back());
  return reinterpret_cast<nvtxDomainHandle_t>(domains.size() - 1);
}

void domain_destroy(nvtxDomainHandle_t) {}

nvtxStringHandle_t register_string(nvtxDomainHandle_t, const char* s) {
  const std::lock_guard lock(mutex);
  strings.emplace_back(s != nullptr ? s : "");
  return reinterpret_cast<nvtxStringHandle_t>(strings.size() - 1);
}

void name_category(nvtxDomainHandle_t d, std::uint32_t id, const char* name) {
  const std::lock_guard lock(mutex);
  add("category\t" + std::to_string(id_of(d)) + "\t" + std::to_string(id) + "\t" + name);
}

int push(nvtxDomainHandle_t d, const nvtxEventAttributes_t* a) {
  const std::lock_guard lock(mutex);
  const std::uint64_t t = tid();
  const int level = ++depth[t];
  add("push\t" + std::to_string(id_of(d)) + "\t" + std::to_string(t) + "\t" +
      std::to_string(level) + "\t" + describe(a));
  return level - 1;
}

int pop(nvtxDomainHandle_t d) {
  const std::lock_guard lock(mutex);
  const std::uint64_t t = tid();
  const int level = depth[t]--;
  add("pop\t" + std::to_string(id_of(d)) + "\t" + std::to_string(t) + "\t" + std::to_string(level));
  return level;
}

std::uint64_t next_range = 1;  // guarded by mutex

nvtxRangeId_t start(nvtxDomainHandle_t d, const nvtxEventAttributes_t* a) {
  const std::lock_guard lock(mutex);
  const std::uint64_t id = next_range++;
  add("start\t" + std::to_string(id_of(d)) + "\t" + std::to_string(id) + "\t" + describe(a));
  return id;
}

void end(nvtxDomainHandle_t d, nvtxRangeId_t id) {
  const std::lock_guard lock(mutex);
  add("end\t" + std::to_string(id_of(d)) + "\t" + std::to_string(id));
}

void mark(nvtxDomainHandle_t d, const nvtxEventAttributes_t* a) {
  const std::lock_guard lock(mutex);
  add("mark\t" + std::to_string(id_of(d)) + "\t" + describe(a));
}

// The global domain's forms (nvtxRangePushA and the like) go to the same records.
int push_ex(const nvtxEventAttributes_t* a) {
  return push(nullptr, a);
}
int push_a(const char* message) {
  nvtxEventAttributes_t a{};
  a.messageType = NVTX_MESSAGE_TYPE_ASCII;
  a.message.ascii = message;
  return push(nullptr, &a);
}
int pop_global() {
  return pop(nullptr);
}
void mark_ex(const nvtxEventAttributes_t* a) {
  mark(nullptr, a);
}
void name_category_global(std::uint32_t id, const char* name) {
  name_category(nullptr, id, name);
}

void name_os_thread(std::uint32_t thread, const char* name) {
  const std::lock_guard lock(mutex);
  add("thread\t" + std::to_string(thread) + "\t" + name);
}

void name_cuda_stream(cudaStream_t, const char* name) {
  const std::lock_guard lock(mutex);
  add(std::string("stream\t") + name);
}

template <class F>
void set(NvtxFunctionTable table, unsigned size, unsigned id, F* f) {
  if (id < size && table[id] != nullptr) *table[id] = reinterpret_cast<NvtxFunctionPointer>(f);
}

}  // namespace

extern "C" {

__attribute__((visibility("default"))) const char* uvm_nvtx_recorder_events() {
  static thread_local std::string copy;
  const std::lock_guard lock(mutex);
  copy = events;
  return copy.c_str();
}

__attribute__((visibility("default"))) int InitializeInjectionNvtx2(
    NvtxGetExportTableFunc_t get_export_table) {
  const auto* callbacks =
      static_cast<const NvtxExportTableCallbacks*>(get_export_table(NVTX_ETID_CALLBACKS));
  if (callbacks == nullptr) return 0;
  NvtxFunctionTable table = nullptr;
  unsigned size = 0;
  if (callbacks->GetModuleFunctionTable(NVTX_CB_MODULE_CORE2, &table, &size) == 0) return 0;
  set(table, size, NVTX_CBID_CORE2_DomainCreateA, domain_create);
  set(table, size, NVTX_CBID_CORE2_DomainDestroy, domain_destroy);
  set(table, size, NVTX_CBID_CORE2_DomainRegisterStringA, register_string);
  set(table, size, NVTX_CBID_CORE2_DomainNameCategoryA, name_category);
  set(table, size, NVTX_CBID_CORE2_DomainRangePushEx, push);
  set(table, size, NVTX_CBID_CORE2_DomainRangePop, pop);
  set(table, size, NVTX_CBID_CORE2_DomainRangeStartEx, start);
  set(table, size, NVTX_CBID_CORE2_DomainRangeEnd, end);
  set(table, size, NVTX_CBID_CORE2_DomainMarkEx, mark);
  if (callbacks->GetModuleFunctionTable(NVTX_CB_MODULE_CORE, &table, &size) == 0) return 0;
  set(table, size, NVTX_CBID_CORE_RangePushEx, push_ex);
  set(table, size, NVTX_CBID_CORE_RangePushA, push_a);
  set(table, size, NVTX_CBID_CORE_RangePop, pop_global);
  set(table, size, NVTX_CBID_CORE_MarkEx, mark_ex);
  set(table, size, NVTX_CBID_CORE_NameCategoryA, name_category_global);
  set(table, size, NVTX_CBID_CORE_NameOsThreadA, name_os_thread);
  if (callbacks->GetModuleFunctionTable(NVTX_CB_MODULE_CUDART, &table, &size) != 0) {
    set(table, size, NVTX_CBID_CUDART_NameCudaStreamA, name_cuda_stream);
  }
  return 1;
}

}  // extern "C"
