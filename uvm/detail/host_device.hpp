#pragma once

/// @file
/// Qualifiers for code shared by host and device translation units.

#if defined(__CUDACC__)
#define UVM_HOST_DEVICE __host__ __device__
#define UVM_DEVICE __device__
#define UVM_NOINLINE __noinline__
#else
#define UVM_HOST_DEVICE
#define UVM_DEVICE
#define UVM_NOINLINE __attribute__((noinline))
#endif
