#pragma once

// local_copies for the cluster's tests: plain memory, with the process's accesses made through
// with(), which holds the page while the code runs. A narrowing waits for the holds to end, as a
// protection change waits for the stores under way (through the TLB shootdown) in the runtime.

#include "host/cluster/cluster_node.hpp"
#include "host/cluster/local_copies.hpp"

#include <uvm/error.hpp>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <mutex>
#include <span>
#include <vector>

namespace uvm::detail {

class held_copies final : public local_copies {
 public:
  held_copies(std::size_t pages, std::size_t page_bytes)
      : page_bytes_(page_bytes), data_(pages * page_bytes), allowed_(pages), holds_(pages) {}

  /// Runs `f(bytes)` with `page` held for `want`, acquiring it from the cluster first if need be.
  template <class F>
  void with(cluster_node& node, std::size_t page, page_access want, F&& f) {
    for (;;) {
      {
        std::unique_lock lock(mutex_);
        if (allowed_[page] >= want) {
          ++holds_[page];
          lock.unlock();
          f(do_bytes(page));
          lock.lock();
          if (--holds_[page] == 0) released_.notify_all();
          return;
        }
      }
      node.acquire(page, want);
    }
  }

 private:
  std::span<std::byte> do_bytes(std::size_t page) noexcept override {
    return {data_.data() + page * page_bytes_, page_bytes_};
  }
  void do_allow(std::size_t page, page_access a) override {
    const std::lock_guard lock(mutex_);
    allowed_[page] = a;
  }
  void do_narrow(std::size_t page, page_access a) override {
    std::unique_lock lock(mutex_);
    allowed_[page] = std::min(allowed_[page], a);
    if (!released_.wait_for(lock, std::chrono::seconds(10), [&] { return holds_[page] == 0; })) {
      throw uvm::timeout("held_copies: a hold outlived 10 s");
    }
  }

  std::size_t page_bytes_;
  std::vector<std::byte> data_;
  std::mutex mutex_;
  std::condition_variable released_;
  std::vector<page_access> allowed_;
  std::vector<int> holds_;
};

}  // namespace uvm::detail
