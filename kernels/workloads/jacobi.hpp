#pragma once

// 2D Jacobi stencil: two n x n float grids swapped every step (each step reads one, writes the
// other), with a CPU residual check (max |new - old| over the grid) every few steps, as a
// solver watching convergence does. Both grids are swept every step: at a budget below the two
// together, a loop that does not fit, interrupted by CPU phases that read everything.

#include "kernels/workloads/workload.hpp"

#include <algorithm>

namespace uvm::workloads {

class jacobi final : public workload {
 public:
  explicit jacobi(const workload_size& z) : n_(256u * z.scale), seed_(z.seed) {}
  [[nodiscard]] std::string_view name() const noexcept override { return "jacobi"; }

  void setup(manager& mgr) override {
    rng g(seed_);
    std::vector<float> init(n_ * n_, 0.0f);
    for (std::size_t j = 0; j < n_; ++j) init[j] = 100.0f;  // a hot edge
    for (std::size_t i = 1; i + 1 < n_; ++i) {
      for (std::size_t j = 1; j + 1 < n_; ++j) init[i * n_ + j] = static_cast<float>(g.below(10));
    }
    // The reference: the same steps and residual checks on plain memory.
    std::vector<float> x = init, y = init;
    want_residuals_.clear();
    for (std::size_t step = 1; step <= steps; ++step) {
      sweep(x.data(), y.data());
      std::swap(x, y);
      if (step % check_every == 0) want_residuals_.push_back(residual(x.data(), y.data()));
    }
    want_ = std::move(x);
    a_ = upload(mgr, init);
    b_ = upload(mgr, init);
  }
  [[nodiscard]] std::vector<const range*> ranges() const override {
    return {&a_.bytes(), &b_.bytes()};
  }

  void run_on(manager& mgr, std::span<const stream> on) override {
    const std::size_t n = n_;
    bool in_a = true;  // the grid the next step reads
    residuals_.clear();
    for (std::size_t step = 1; step <= steps; ++step) {
      const auto in = (in_a ? a_ : b_).const_view();
      const auto out = (in_a ? b_ : a_).view();
      launch_bands(
          mgr, (n - 2) * (n - 2),
          [=] UVM_HOST_DEVICE(std::size_t e) {
            const std::size_t i = 1 + e / (n - 2), j = 1 + e % (n - 2);
            const float v = in.load((i - 1) * n + j) + in.load((i + 1) * n + j) +
                            in.load(i * n + j - 1) + in.load(i * n + j + 1);
            out.store(i * n + j, 0.25f * v);
          },
          on);
      in_a = !in_a;
      if (step % check_every == 0) {
        wait_all(mgr, on);  // the CPU phase: reads both grids
        residuals_.push_back(residual(a_.data(), b_.data()));
      }
    }
    wait_all(mgr, on);
    last_ = in_a ? a_.data() : b_.data();
  }

  [[nodiscard]] std::string check() const override {
    std::string r = compare_close("grid", last_, want_);
    if (r.empty()) r = compare_close("residual", residuals_.data(), want_residuals_);
    return r;
  }
  [[nodiscard]] const range& result() const override {
    return last_ == a_.data() ? a_.bytes() : b_.bytes();
  }

 private:
  static constexpr std::size_t steps = 12;
  static constexpr std::size_t check_every = 4;

  void sweep(const float* in, float* out) const {
    const std::size_t n = n_;
    for (std::size_t i = 1; i + 1 < n; ++i) {
      for (std::size_t j = 1; j + 1 < n; ++j) {
        const float v =
            in[(i - 1) * n + j] + in[(i + 1) * n + j] + in[i * n + j - 1] + in[i * n + j + 1];
        out[i * n + j] = 0.25f * v;
      }
    }
  }
  [[nodiscard]] float residual(const float* x, const float* y) const {
    float worst = 0.0f;
    for (std::size_t i = 0; i < n_ * n_; ++i) worst = std::max(worst, std::fabs(x[i] - y[i]));
    return worst;
  }
  std::size_t n_;
  std::uint64_t seed_;
  typed_range<float> a_, b_;
  std::vector<float> want_, want_residuals_, residuals_;
  const float* last_ = nullptr;
};

}  // namespace uvm::workloads
