#pragma once

// Names the calling thread so that top, gdb and Nsight show which emulated unit it is.

#include <string_view>

#include <pthread.h>

namespace uvm::detail {

inline void set_thread_name(std::string_view name) noexcept {
  char buf[16] = {};  // Linux limits thread names to 15 characters and the terminator.
  name.copy(buf, sizeof(buf) - 1);
  pthread_setname_np(pthread_self(), buf);
}

}  // namespace uvm::detail
