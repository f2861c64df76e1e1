#include "host/backend/emulated/copy_engine.hpp"

#include "host/telemetry/nvtx.hpp"

#include <atomic>
#include <cstdint>
#include <cstring>
#include <utility>

#if defined(__SSE2__) && !defined(__SANITIZE_ADDRESS__) && !defined(__SANITIZE_THREAD__)
#include <emmintrin.h>
#define UVM_STREAMING_COPY 1
#endif

namespace uvm::detail {

namespace {

// A DMA engine writes memory without passing it through the CPU's caches. Streaming
// (non-temporal) stores do the same here, and for large copies they are what makes the engine
// as fast as a plain memcpy of the whole range (which glibc streams too, past its threshold),
// where chunked memcpy would read every destination line before writing it. (The sanitizer
// builds copy with memcpy, which they check.)
void dma_copy(void* dst, const void* src, std::size_t bytes) noexcept {
#if defined(UVM_STREAMING_COPY)
  constexpr std::size_t streaming_from = 64 << 10;
  if (bytes >= streaming_from) {
    auto* d = static_cast<unsigned char*>(dst);
    const auto* s = static_cast<const unsigned char*>(src);
    const std::size_t head = (16 - (reinterpret_cast<std::uintptr_t>(d) & 15)) & 15;
    std::memcpy(d, s, head);
    d += head;
    s += head;
    bytes -= head;
    const std::size_t body = bytes & ~std::size_t{63};
    for (std::size_t i = 0; i < body; i += 64) {
      const __m128i a = _mm_loadu_si128(reinterpret_cast<const __m128i*>(s + i));
      const __m128i b = _mm_loadu_si128(reinterpret_cast<const __m128i*>(s + i + 16));
      const __m128i c = _mm_loadu_si128(reinterpret_cast<const __m128i*>(s + i + 32));
      const __m128i e = _mm_loadu_si128(reinterpret_cast<const __m128i*>(s + i + 48));
      _mm_stream_si128(reinterpret_cast<__m128i*>(d + i), a);
      _mm_stream_si128(reinterpret_cast<__m128i*>(d + i + 16), b);
      _mm_stream_si128(reinterpret_cast<__m128i*>(d + i + 32), c);
      _mm_stream_si128(reinterpret_cast<__m128i*>(d + i + 48), e);
    }
    _mm_sfence();  // the stores are visible before the copy is reported complete
    std::memcpy(d + body, s + body, bytes - body);
    return;
  }
#endif
  std::memcpy(dst, src, bytes);
}

}  // namespace

copy_engine::copy_engine(std::string thread_name)
    : thread_name_(std::move(thread_name)), thread_([this] { run(); }) {}

copy_engine::~copy_engine() {
  {
    const std::lock_guard lock(queue_mutex_);
    stopping_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

void copy_engine::copy(void* dst, const void* src, std::size_t bytes, bool words) {
  if (!words && bytes >= handoff_bytes) {
    auto j = std::make_shared<job>(dst, src, bytes);
    {
      const std::lock_guard lock(queue_mutex_);
      queue_.push_back(j);
    }
    cv_.notify_one();
    j->done.wait();
    return;
  }
  const std::lock_guard busy(busy_);
  copy_now(dst, src, bytes, words);
}

bool copy_engine::try_copy(void* dst, const void* src, std::size_t bytes, bool words) {
  if (!words && bytes >= handoff_bytes) return false;
  const std::unique_lock busy(busy_, std::try_to_lock);
  if (!busy.owns_lock()) return false;
  copy_now(dst, src, bytes, words);
  return true;
}

void copy_engine::copy_now(void* dst, const void* src, std::size_t bytes, bool words) noexcept {
  if (words) {
    auto* d = static_cast<std::uint32_t*>(dst);
    const auto* s = static_cast<const std::uint32_t*>(src);
    for (std::size_t i = 0; i < bytes / 4; ++i) {
      // Both sides whole: device code may change the source words with atomics meanwhile.
      std::atomic_ref<std::uint32_t>(d[i]).store(__atomic_load_n(s + i, __ATOMIC_ACQUIRE),
                                                 std::memory_order_release);
    }
  } else if (bytes > 0) {
    dma_copy(dst, src, bytes);
  }
}

void copy_engine::run() noexcept {
  name_thread(thread_name_.c_str());
  for (;;) {
    std::shared_ptr<job> j;
    {
      std::unique_lock lock(queue_mutex_);
      cv_.wait(lock, [this] { return !queue_.empty() || stopping_; });
      if (queue_.empty()) return;  // stopping, and nothing left to finish
      j = std::move(queue_.front());
      queue_.pop_front();
    }
    {
      const std::lock_guard busy(busy_);
      dma_copy(j->dst, j->src, j->bytes);
    }
    j->done.complete();
  }
}

}  // namespace uvm::detail
