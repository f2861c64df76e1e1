#pragma once

// A workload: a real algorithm's kernels and CPU phases on managed memory, with a check of its
// result against a plain CPU computation (so a fast wrong answer fails). Kernel bodies are
// `UVM_HOST_DEVICE` lambdas run through uvm::launch: CUDA kernels where nvcc compiles this, the
// emulated device's threads otherwise. Inputs come from a seed, so every run (and its trace)
// is reproducible.
//
// The lambdas copy what they use into locals first: a lambda that captured `this` would
// dereference a host pointer on the GPU.

#include <uvm/launch.hpp>
#include <uvm/uvm.hpp>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace uvm::workloads {

/// How large a workload is built: `scale` 1 is a few MiB (tests, --quick); each step up about
/// doubles the footprint.
struct workload_size {
  unsigned scale = 1;
  std::uint64_t seed = 1;
};

class workload {
 public:
  virtual ~workload() = default;
  /// "matmul", "jacobi", ...
  [[nodiscard]] virtual std::string_view name() const noexcept = 0;
  /// Allocates the managed data from `mgr` and fills it on the CPU (so it starts on the host),
  /// and computes the reference result in plain memory.
  virtual void setup(manager& mgr) = 0;
  /// The managed allocations (footprint, prefetch of the resident baseline).
  [[nodiscard]] virtual std::vector<const range*> ranges() const = 0;
  /// Runs the algorithm on the streams `on`: its kernels and CPU phases; returns once the
  /// devices are done. One stream, or one per device: each kernel is then split into bands, one
  /// per stream (launch_bands).
  virtual void run_on(manager& mgr, std::span<const stream> on) = 0;
  /// Runs the algorithm on `s`.
  void run(manager& mgr, const stream& s) { run_on(mgr, std::span<const stream>(&s, 1)); }
  /// @return "" if the result matches the reference, else what differs (the first mismatch).
  [[nodiscard]] virtual std::string check() const = 0;
  /// The allocation that holds the result (tests break it to see check() fail).
  [[nodiscard]] virtual const range& result() const = 0;
};

/// @return the bytes of every managed allocation of `w`, in whole pages.
[[nodiscard]] inline std::size_t footprint(const workload& w) {
  std::size_t bytes = 0;
  for (const range* r : w.ranges()) bytes += r->page_count() * r->page_size();
  return bytes;
}

/// splitmix64: a small seeded generator, the same on every platform.
class rng {
 public:
  explicit rng(std::uint64_t seed) noexcept : state_(seed) {}
  std::uint64_t next() noexcept {
    std::uint64_t z = (state_ += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
  /// Uniform in [0, n).
  std::uint64_t below(std::uint64_t n) noexcept { return next() % n; }
  /// Uniform in [0, 1).
  double unit() noexcept { return static_cast<double>(next() >> 11) * 0x1.0p-53; }

 private:
  std::uint64_t state_;
};

/// Float results: the device may contract a*b+c into one rounding, the CPU reference does not.
[[nodiscard]] inline bool close_enough(float got, float want) noexcept {
  return std::fabs(got - want) <= 1e-3f * std::fmax(1.0f, std::fabs(want));
}

/// @return "" or a message naming the first of `got` that differs from `want`.
template <class T, class Same>
[[nodiscard]] std::string compare(std::string_view what, const T* got, const std::vector<T>& want,
                                  Same same) {
  for (std::size_t i = 0; i < want.size(); ++i) {
    if (!same(got[i], want[i])) {
      char buf[160];
      std::snprintf(buf, sizeof buf, "%.*s[%zu] is %.9g, the CPU computed %.9g",
                    static_cast<int>(what.size()), what.data(), i, static_cast<double>(got[i]),
                    static_cast<double>(want[i]));
      return buf;
    }
  }
  return {};
}

template <class T>
[[nodiscard]] std::string compare_exact(std::string_view what, const T* got,
                                        const std::vector<T>& want) {
  return compare(what, got, want, [](const T& a, const T& b) { return a == b; });
}

[[nodiscard]] inline std::string compare_close(std::string_view what, const float* got,
                                               const std::vector<float>& want) {
  return compare(what, got, want, close_enough);
}

/// `f` on the indices of one band: index i is the band's first + i.
template <class F>
struct band_body {
  F f;
  std::size_t first;
  UVM_HOST_DEVICE void operator()(std::size_t i) const { f(first + i); }
};

/// Waits for the work queued on every stream of `on`.
inline void wait_all(manager& mgr, std::span<const stream> on) {
  for (const stream& s : on) mgr.synchronize(s);
}

/// Runs `f(i)` for every i in [0, n): on one stream as uvm::launch does (asynchronously); on
/// several, the k-th contiguous band of [0, n) on stream k, and then waits for all of them (the
/// next kernel may read any band). A band's writes stay on its stream's device; what it reads of
/// the others' (a halo) is mapped from the peer, or moves.
template <class F>
void launch_bands(manager& mgr, std::size_t n, F f, std::span<const stream> on) {
  if (on.size() == 1) {
    launch(mgr, n, f, on.front());
    return;
  }
  for (std::size_t k = 0; k < on.size(); ++k) {
    const std::size_t first = n * k / on.size(), last = n * (k + 1) / on.size();
    if (last > first) launch(mgr, last - first, band_body<F>{f, first}, on[k]);
  }
  wait_all(mgr, on);
}

/// Copies `v` into a new allocation of `mgr` (written by the CPU: it starts on the host).
template <class T>
[[nodiscard]] typed_range<T> upload(manager& mgr, const std::vector<T>& v) {
  typed_range<T> r = mgr.allocate<T>(v.size());
  for (std::size_t i = 0; i < v.size(); ++i) r[i] = v[i];
  return r;
}

}  // namespace uvm::workloads
