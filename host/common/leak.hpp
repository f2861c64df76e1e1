#pragma once

// Deliberate leaks: memory a running kernel may still use, never to be freed. Under
// LeakSanitizer the object is marked as intended (and as a root for what it points to), so the
// leak checker reports only the leaks nobody meant.

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/lsan_interface.h>
#endif

namespace uvm::detail {

template <class T>
T* leak_on_purpose(T* p) noexcept {
#if defined(__SANITIZE_ADDRESS__)
  if (p != nullptr) __lsan_ignore_object(p);
#endif
  return p;
}

}  // namespace uvm::detail
