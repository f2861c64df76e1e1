#pragma once

// Tiled dense matrix multiply, C = A x B (n x n floats, row-major), as an out-of-core GEMM
// runs it: one kernel per (row band of A and C, k band), each adding A[band, kband] x
// B[kband, :] into C[band, :]. B is swept once per row band, so at a budget below the three
// matrices together the sweep is a loop that does not fit.

#include "kernels/workloads/workload.hpp"

namespace uvm::workloads {

class matmul final : public workload {
 public:
  explicit matmul(const workload_size& z)
      : n_(256u << (z.scale > 1 ? (z.scale - 1) / 2 : 0)), seed_(z.seed) {
    if (z.scale > 1 && (z.scale - 1) % 2 == 1) n_ += n_ / 2;  // 256, 384, 512, 768...
  }
  [[nodiscard]] std::string_view name() const noexcept override { return "matmul"; }

  void setup(manager& mgr) override {
    rng g(seed_);
    std::vector<float> a(n_ * n_), b(n_ * n_);
    for (float& x : a) x = static_cast<float>(g.below(17)) - 8.0f;
    for (float& x : b) x = static_cast<float>(g.below(17)) - 8.0f;
    want_.assign(n_ * n_, 0.0f);
    for (std::size_t i = 0; i < n_; ++i) {
      for (std::size_t k = 0; k < n_; ++k) {
        const float aik = a[i * n_ + k];
        for (std::size_t j = 0; j < n_; ++j) want_[i * n_ + j] += aik * b[k * n_ + j];
      }
    }
    a_ = upload(mgr, a);
    b_ = upload(mgr, b);
    c_ = mgr.allocate<float>(n_ * n_);
  }
  [[nodiscard]] std::vector<const range*> ranges() const override {
    return {&a_.bytes(), &b_.bytes(), &c_.bytes()};
  }

  void run_on(manager& mgr, std::span<const stream> on) override {
    const std::size_t n = n_, tile = tile_rows;
    const auto av = a_.const_view();
    const auto bv = b_.const_view();
    const auto cv = c_.view();
    for (std::size_t band = 0; band < n; band += tile) {
      for (std::size_t kb = 0; kb < n; kb += tile) {
        // One index per element of the band of C: its row's k band times B's columns.
        launch_bands(
            mgr, tile * n,
            [=] UVM_HOST_DEVICE(std::size_t e) {
              const std::size_t i = band + e / n, j = e % n;
              float sum = kb == 0 ? 0.0f : cv.load(i * n + j);
              for (std::size_t k = kb; k < kb + tile; ++k)
                sum += av.load(i * n + k) * bv.load(k * n + j);
              cv.store(i * n + j, sum);
            },
            on);
      }
    }
    wait_all(mgr, on);
  }

  [[nodiscard]] std::string check() const override {
    // Small integers: every product and partial sum is exact in float, on any device.
    return compare_exact("C", c_.data(), want_);
  }
  [[nodiscard]] const range& result() const override { return c_.bytes(); }

 private:
  static constexpr std::size_t tile_rows = 64;
  std::size_t n_;
  std::uint64_t seed_;
  typed_range<float> a_, b_, c_;
  std::vector<float> want_;
};

}  // namespace uvm::workloads
