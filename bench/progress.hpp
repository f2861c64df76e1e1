#pragma once

// The progress line uvm-bench and uvm-replay show on stderr while one step runs: nothing for
// the first second, then `<label>  <elapsed> s`, rewritten in place twice a second, erased when
// the step ends. Only when stderr is a terminal: redirected output stays clean.

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <mutex>
#include <string>
#include <thread>

namespace bench {

class progress_line {
 public:
  /// Shows `label` on `out` (stderr if null) after `delay`, if `out` is a terminal or `force`.
  explicit progress_line(std::string label, std::FILE* out = nullptr, bool force = false,
                         std::chrono::milliseconds delay = std::chrono::seconds(1));
  /// Stops and erases the line.
  ~progress_line();
  progress_line(const progress_line&) = delete;
  progress_line& operator=(const progress_line&) = delete;

  /// Whether a line will be shown (stderr is a terminal, or forced).
  [[nodiscard]] bool shown() const noexcept { return ticker_.joinable(); }

 private:
  void run(std::chrono::milliseconds delay);

  std::string label_;
  std::FILE* out_;
  std::chrono::steady_clock::time_point start_;
  std::mutex mutex_;
  std::condition_variable stop_cv_;
  bool stop_ = false;
  bool drawn_ = false;
  std::thread ticker_;  // last: started once the rest is set
};

}  // namespace bench
