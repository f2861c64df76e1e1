#include "bench/progress.hpp"

#include <unistd.h>

namespace bench {

progress_line::progress_line(std::string label, std::FILE* out, bool force,
                             std::chrono::milliseconds delay)
    : label_(std::move(label)),
      out_(out != nullptr ? out : stderr),
      start_(std::chrono::steady_clock::now()) {
  if (force || isatty(fileno(out_)) == 1) ticker_ = std::thread([this, delay] { run(delay); });
}

progress_line::~progress_line() {
  if (!ticker_.joinable()) return;
  {
    const std::lock_guard lock(mutex_);
    stop_ = true;
  }
  stop_cv_.notify_all();
  ticker_.join();
  if (drawn_) {
    std::fputs("\r\033[K", out_);  // back to the line's start, and clear it
    std::fflush(out_);
  }
}

void progress_line::run(std::chrono::milliseconds delay) {
  std::unique_lock lock(mutex_);
  if (stop_cv_.wait_for(lock, delay, [this] { return stop_; })) return;
  do {
    const std::chrono::duration<double> elapsed = std::chrono::steady_clock::now() - start_;
    std::fprintf(out_, "\r\033[K%s  %.1f s", label_.c_str(), elapsed.count());
    std::fflush(out_);
    drawn_ = true;
  } while (!stop_cv_.wait_for(lock, std::chrono::milliseconds(500), [this] { return stop_; }));
}

}  // namespace bench
