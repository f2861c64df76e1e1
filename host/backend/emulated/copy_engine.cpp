#include "host/backend/emulated/copy_engine.hpp"

#include "host/telemetry/nvtx.hpp"

#include <atomic>
#include <cstdint>
#include <cstring>
#include <utility>

namespace uvm::detail {

copy_engine::copy_engine(std::string thread_name)
    : thread_name_(std::move(thread_name)), thread_([this] { run(); }) {}

copy_engine::~copy_engine() {
  {
    const std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

void copy_engine::copy(void* dst, const void* src, std::size_t bytes, bool words) {
  auto j = std::make_shared<job>(dst, src, bytes, words);
  {
    const std::lock_guard lock(mutex_);
    queue_.push_back(j);
  }
  cv_.notify_one();
  j->done.wait();
}

void copy_engine::run() noexcept {
  name_thread(thread_name_.c_str());
  for (;;) {
    std::shared_ptr<job> j;
    {
      std::unique_lock lock(mutex_);
      cv_.wait(lock, [this] { return !queue_.empty() || stopping_; });
      if (queue_.empty()) return;  // stopping, and nothing left to finish
      j = std::move(queue_.front());
      queue_.pop_front();
    }
    if (j->words) {
      auto* d = static_cast<std::uint32_t*>(j->dst);
      const auto* s = static_cast<const std::uint32_t*>(j->src);
      for (std::size_t i = 0; i < j->bytes / 4; ++i) {
        std::atomic_ref<std::uint32_t>(d[i]).store(s[i], std::memory_order_release);
      }
    } else if (j->bytes > 0) {
      std::memcpy(j->dst, j->src, j->bytes);
    }
    j->done.complete();
  }
}

}  // namespace uvm::detail
