#pragma once

// The optional capabilities of a CUDA device that the cuda backend uses where present, queried
// once when the backend starts, and the path it takes for each: what it does where a capability
// is missing is chosen here, as a pure decision tested without a GPU.

#include <uvm/detail/current_device.hpp>

#include <fmt/format.h>

#include <span>
#include <string>
#include <vector>

namespace uvm::detail {

/// One device's answers; -1 where the query itself failed (unknown is treated as absent).
struct device_capabilities {
  int device = -1;
  std::string name;
  int driver_version = 0;   ///< cudaDriverGetVersion, e.g. 13000
  int runtime_version = 0;  ///< cudaRuntimeGetVersion
  int concurrent_managed_access = -1;
  int pageable_memory_access = -1;
  int host_register_read_only = -1;          ///< cudaDevAttrHostRegisterReadOnlySupported
  int host_pointer_for_registered_mem = -1;  ///< cudaDevAttrCanUseHostPointerForRegisteredMem
  int stream_wait_value = -1;                ///< the driver exports cuStreamWaitValue32
  int stream_wait_value_nor = -1;            ///< CU_DEVICE_ATTRIBUTE_CAN_USE_STREAM_WAIT_VALUE_NOR
  int host_native_atomics = -1;              ///< cudaDevAttrHostNativeAtomicSupported
  int async_engines = -1;                    ///< cudaDevAttrAsyncEngineCount (copy engines)
  int peer_devices = -1;                     ///< other devices this one can access as a peer
};

/// The path the cuda backend takes for each optional capability.
struct backend_paths {
  /// The zero source (a read-only mapping) is registered cudaHostRegisterReadOnly; otherwise it
  /// is made writable for the registration (private zero pages: nothing else writes them).
  bool zero_source_read_only = false;
  /// Registered memory is reached by the host address; otherwise through
  /// cudaHostGetDevicePointer's answer (which the backend always returns to its callers).
  bool host_pointer_on_device = false;
  /// Gates wait with cuStreamWaitValue32 (no SM, no host thread); otherwise there are no
  /// gates, and a queued prefetch or discard runs before its call returns.
  bool gates_wait_value = false;
};

[[nodiscard]] constexpr backend_paths choose_paths(const device_capabilities& c) noexcept {
  return {c.host_register_read_only == 1, c.host_pointer_for_registered_mem == 1,
          c.stream_wait_value == 1};
}

/// The paths of a backend that drives all of `devices`: a capability is used only where every
/// one has it (host memory is registered once for all of them, and gates serve every stream).
[[nodiscard]] inline backend_paths choose_paths(std::span<const device_capabilities> devices) {
  backend_paths p{true, true, true};
  for (const device_capabilities& c : devices) {
    const backend_paths one = choose_paths(c);
    p.zero_source_read_only &= one.zero_source_read_only;
    p.host_pointer_on_device &= one.host_pointer_on_device;
    p.gates_wait_value &= one.gates_wait_value;
  }
  return p;
}

/// Which GPUs a cuda backend drives: `listed` (CUDA ordinals, config::cuda_devices) or, if it is
/// empty, the first max_devices of the `visible` ones.
/// @return the ordinals, or what is wrong with the list (an ordinal that is not visible).
[[nodiscard]] inline std::vector<int> select_gpus(std::span<const int> listed, int visible,
                                                  std::string* wrong) {
  std::vector<int> gpus;
  if (listed.empty()) {
    for (int o = 0; o < visible && gpus.size() < max_devices; ++o) gpus.push_back(o);
    return gpus;
  }
  for (const int o : listed) {
    if (o < 0 || o >= visible) {
      *wrong = fmt::format(
          "CUDA device {} is not there: {} visible (UVM_CUDA_DEVICES, "
          "config::cuda_devices; CUDA_VISIBLE_DEVICES renumbers them)",
          o, visible);
      return {};
    }
    gpus.push_back(o);
  }
  return gpus;
}

/// One line for the log: the device, its capabilities and the paths taken.
[[nodiscard]] inline std::string describe(const device_capabilities& c, const backend_paths& p) {
  return fmt::format(
      "device {} ({}), driver {}, runtime {}: concurrentManagedAccess {}, "
      "pageableMemoryAccess {}, hostRegisterReadOnly {}, hostPointerForRegisteredMem {}, "
      "streamWaitValue32 {}, streamWaitValueNor {}, hostNativeAtomics {}, copy engines {}, "
      "peers {}; zero source registered {}, registered memory reached {}, gates {}",
      c.device, c.name, c.driver_version, c.runtime_version, c.concurrent_managed_access,
      c.pageable_memory_access, c.host_register_read_only, c.host_pointer_for_registered_mem,
      c.stream_wait_value, c.stream_wait_value_nor, c.host_native_atomics, c.async_engines,
      c.peer_devices, p.zero_source_read_only ? "read-only" : "read-write (fallback)",
      p.host_pointer_on_device ? "by the host address" : "by cudaHostGetDevicePointer (fallback)",
      p.gates_wait_value ? "cuStreamWaitValue32"
                         : "none: queued moves run in their call (fallback)");
}

/// The same as one JSON object, for bench/gpu-check's record.
[[nodiscard]] inline std::string to_json(const device_capabilities& c, const backend_paths& p) {
  std::string name;
  for (const char ch : c.name) {
    if (ch == '"' || ch == '\\') name += '\\';
    if (static_cast<unsigned char>(ch) >= 0x20) name += ch;
  }
  return fmt::format(
      R"({{"device": {}, "name": "{}", "driver_version": {}, "runtime_version": {}, )"
      R"("concurrent_managed_access": {}, "pageable_memory_access": {}, )"
      R"("host_register_read_only": {}, "host_pointer_for_registered_mem": {}, )"
      R"("stream_wait_value32": {}, "stream_wait_value_nor": {}, "host_native_atomics": {}, )"
      R"("async_engine_count": {}, "peer_devices": {}, "paths": {{"zero_source": "{}", )"
      R"("registered_memory": "{}", "gates": "{}"}}}})",
      c.device, name, c.driver_version, c.runtime_version, c.concurrent_managed_access,
      c.pageable_memory_access, c.host_register_read_only, c.host_pointer_for_registered_mem,
      c.stream_wait_value, c.stream_wait_value_nor, c.host_native_atomics, c.async_engines,
      c.peer_devices, p.zero_source_read_only ? "read_only" : "read_write",
      p.host_pointer_on_device ? "host_pointer" : "device_pointer",
      p.gates_wait_value ? "stream_wait_value32" : "none_synchronous");
}

}  // namespace uvm::detail
