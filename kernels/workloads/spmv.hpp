#pragma once

// Sparse matrix-vector multiply (CSR) repeated as in an iterative solver (power iteration):
// y = A x, then the CPU takes the largest |y| and the next product scales by its inverse. The
// matrix (a band around the diagonal plus scattered entries) is swept every iteration, the
// vectors are reused, and the CPU reads y between products.

#include "kernels/workloads/workload.hpp"

#include <algorithm>

namespace uvm::workloads {

class spmv final : public workload {
 public:
  explicit spmv(const workload_size& z) : rows_(16384u * z.scale), seed_(z.seed) {}
  [[nodiscard]] std::string_view name() const noexcept override { return "spmv"; }

  void setup(manager& mgr) override {
    rng g(seed_);
    std::vector<std::uint32_t> row(rows_ + 1, 0), col;
    std::vector<float> val, x(rows_);
    for (std::size_t i = 0; i < rows_; ++i) {
      std::vector<std::uint32_t> cols;
      for (std::size_t d = 0; d < band; ++d) {
        cols.push_back(static_cast<std::uint32_t>((i + rows_ - band / 2 + d) % rows_));
      }
      for (std::size_t k = 0; k < scattered; ++k)
        cols.push_back(static_cast<std::uint32_t>(g.below(rows_)));
      std::sort(cols.begin(), cols.end());
      for (const std::uint32_t c : cols) {
        col.push_back(c);
        val.push_back(static_cast<float>(1 + g.below(4)) * 0.25f);
      }
      row[i + 1] = static_cast<std::uint32_t>(col.size());
      x[i] = static_cast<float>(1 + g.below(8));
    }
    // The reference, with the same order of operations.
    std::vector<float> a = x, b(rows_);
    float scale = 1.0f;
    for (std::size_t it = 0; it < iterations; ++it) {
      for (std::size_t i = 0; i < rows_; ++i) {
        float sum = 0.0f;
        for (std::uint32_t k = row[i]; k < row[i + 1]; ++k) sum += val[k] * a[col[k]];
        b[i] = scale * sum;
      }
      scale = 1.0f / largest(b.data(), rows_);
      std::swap(a, b);
    }
    want_ = std::move(a);
    row_ = upload(mgr, row);
    col_ = upload(mgr, col);
    val_ = upload(mgr, val);
    x_ = upload(mgr, x);
    y_ = mgr.allocate<float>(rows_);
  }
  [[nodiscard]] std::vector<const range*> ranges() const override {
    return {&row_.bytes(), &col_.bytes(), &val_.bytes(), &x_.bytes(), &y_.bytes()};
  }

  void run_on(manager& mgr, std::span<const stream> on) override {
    const auto row = row_.const_view();
    const auto col = col_.const_view();
    const auto val = val_.const_view();
    bool into_y = true;
    float scale = 1.0f;
    for (std::size_t it = 0; it < iterations; ++it) {
      const auto in = (into_y ? x_ : y_).const_view();
      const auto out = (into_y ? y_ : x_).view();
      launch_bands(
          mgr, rows_,
          [=] UVM_HOST_DEVICE(std::size_t i) {
            float sum = 0.0f;
            for (std::uint32_t k = row.load(i), end = row.load(i + 1); k < end; ++k) {
              sum += val.load(k) * in.load(col.load(k));
            }
            out.store(i, scale * sum);
          },
          on);
      wait_all(mgr, on);
      scale = 1.0f / largest((into_y ? y_ : x_).data(), rows_);  // the CPU phase
      into_y = !into_y;
    }
    last_ = (into_y ? x_ : y_).data();
  }

  [[nodiscard]] std::string check() const override { return compare_close("x", last_, want_); }
  [[nodiscard]] const range& result() const override {
    return last_ == x_.data() ? x_.bytes() : y_.bytes();
  }

 private:
  static constexpr std::size_t band = 8, scattered = 8, iterations = 10;
  [[nodiscard]] static float largest(const float* v, std::size_t n) {
    float m = 0.0f;
    for (std::size_t i = 0; i < n; ++i) m = std::max(m, std::fabs(v[i]));
    return m == 0.0f ? 1.0f : m;
  }

  std::size_t rows_;
  std::uint64_t seed_;
  typed_range<std::uint32_t> row_, col_;
  typed_range<float> val_, x_, y_;
  std::vector<float> want_;
  const float* last_ = nullptr;
};

}  // namespace uvm::workloads
