#pragma once

// Builds a message in a fixed buffer and writes it to stderr with write(2): what a signal
// handler may use instead of printf and the logger.

#include <cstddef>
#include <cstdint>
#include <string_view>

#include <unistd.h>

namespace uvm::detail {

class signal_safe_writer {
 public:
  signal_safe_writer& operator<<(std::string_view s) noexcept {
    for (char c : s) put(c);
    return *this;
  }
  signal_safe_writer& operator<<(const char* s) noexcept {
    return *this << std::string_view(s != nullptr ? s : "(null)");
  }
  signal_safe_writer& operator<<(std::uint64_t v) noexcept {
    char tmp[20];
    int n = 0;
    do {
      tmp[n++] = static_cast<char>('0' + v % 10);
      v /= 10;
    } while (v != 0);
    while (n > 0) put(tmp[--n]);
    return *this;
  }
  signal_safe_writer& operator<<(const void* p) noexcept {
    auto v = reinterpret_cast<std::uintptr_t>(p);
    put('0');
    put('x');
    bool started = false;
    for (int shift = 60; shift >= 0; shift -= 4) {
      const unsigned d = (v >> shift) & 0xf;
      if (d != 0 || started || shift == 0) {
        started = true;
        put("0123456789abcdef"[d]);
      }
    }
    return *this;
  }
  /// Writes the message to stderr.
  void flush() noexcept {
    std::size_t off = 0;
    while (off < len_) {
      const ssize_t n = write(STDERR_FILENO, buf_ + off, len_ - off);
      if (n <= 0) break;
      off += static_cast<std::size_t>(n);
    }
    len_ = 0;
  }

 private:
  void put(char c) noexcept {
    if (len_ < sizeof(buf_)) buf_[len_++] = c;
  }
  char buf_[512];
  std::size_t len_ = 0;
};

}  // namespace uvm::detail
