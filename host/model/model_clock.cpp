#include "host/model/model_clock.hpp"

#include <algorithm>

namespace uvm::detail {

model_clock::model_clock(unsigned devices, unsigned copy_engines)
    : copy_engines_(copy_engines), engines_(std::size_t{devices} * 2, 0) {}

std::uint64_t model_clock::stream(stream_key s) const noexcept {
  const auto it = streams_.find(s);
  return it != streams_.end() ? it->second : 0;
}

std::uint64_t model_clock::makespan() const noexcept {
  std::uint64_t end = host_;
  for (const auto& [key, t] : streams_) end = std::max(end, t);
  return end;
}

std::uint64_t model_clock::run(stream_key s, std::uint64_t issued, std::uint64_t duration) {
  std::uint64_t& t = streams_[s];
  t = std::max(t, issued) + duration;
  return t;
}

std::uint64_t& model_clock::engine(unsigned d, copy_direction dir) {
  const bool out = copy_engines_ > 1 && dir == copy_direction::device_to_host;
  return engines_.at(std::size_t{d} * 2 + (out ? 1 : 0));
}

std::uint64_t model_clock::copy(stream_key s, unsigned d, copy_direction dir, std::uint64_t issued,
                                std::uint64_t duration) {
  std::uint64_t& t = streams_[s];
  std::uint64_t& e = engine(d, dir);
  t = std::max({t, issued, e}) + duration;
  e = t;
  return t;
}

void model_clock::host_copy(unsigned d, copy_direction dir, std::uint64_t duration) {
  std::uint64_t& e = engine(d, dir);
  host_ = std::max(host_, e) + duration;
  e = host_;
}

void model_clock::wait(stream_key s) noexcept {
  host_ = std::max(host_, stream(s));
}

void model_clock::wait_all() noexcept {
  host_ = makespan();
}

}  // namespace uvm::detail
