#pragma once

// Embedding gather, as recommendation models run it: each batch has `bag` Zipf-distributed
// (s = 1.05) row indices per sample, written by the CPU, and a kernel sums each sample's rows of
// a large table. A few rows are hot, most are touched rarely: frequency matters more than
// recency. The rows' ranks are shuffled so hot rows are spread over the table's pages.

#include "kernels/workloads/workload.hpp"

#include <algorithm>
#include <numeric>

namespace uvm::workloads {

class embedding_gather final : public workload {
 public:
  explicit embedding_gather(const workload_size& z) : rows_(32768u * z.scale), seed_(z.seed) {}
  [[nodiscard]] std::string_view name() const noexcept override { return "embedding-gather"; }

  void setup(manager& mgr) override {
    rng g(seed_);
    std::vector<float> table(rows_ * dim);
    for (float& x : table) x = static_cast<float>(g.below(64)) / 8.0f;
    std::vector<double> cdf(rows_);
    double total = 0.0;
    for (std::size_t r = 0; r < rows_; ++r)
      cdf[r] = total += 1.0 / std::pow(static_cast<double>(r + 1), 1.05);
    std::vector<std::uint32_t> rank(rows_);
    std::iota(rank.begin(), rank.end(), 0u);
    for (std::size_t i = rows_ - 1; i > 0; --i) std::swap(rank[i], rank[g.below(i + 1)]);
    indices_.resize(batches);
    want_.assign(batches * samples * dim, 0.0f);
    for (std::size_t b = 0; b < batches; ++b) {
      indices_[b].resize(samples * bag);
      for (std::size_t k = 0; k < samples * bag; ++k) {
        const double u = g.unit() * total;
        const auto at =
            static_cast<std::size_t>(std::lower_bound(cdf.begin(), cdf.end(), u) - cdf.begin());
        indices_[b][k] = rank[std::min(at, rows_ - 1)];
      }
      for (std::size_t sm = 0; sm < samples; ++sm) {
        for (std::size_t d = 0; d < dim; ++d) {
          float sum = 0.0f;
          for (std::size_t j = 0; j < bag; ++j) sum += table[indices_[b][sm * bag + j] * dim + d];
          want_[(b * samples + sm) * dim + d] = sum;
        }
      }
    }
    table_ = upload(mgr, table);
    idx_ = mgr.allocate<std::uint32_t>(samples * bag);
    out_ = mgr.allocate<float>(batches * samples * dim);
  }
  [[nodiscard]] std::vector<const range*> ranges() const override {
    return {&table_.bytes(), &idx_.bytes(), &out_.bytes()};
  }

  void run_on(manager& mgr, std::span<const stream> on) override {
    const auto table = table_.const_view();
    const auto idx = idx_.const_view();
    const auto out = out_.view();
    for (std::size_t b = 0; b < batches; ++b) {
      // The CPU phase: the next batch's indices (the previous kernel has read them).
      for (std::size_t k = 0; k < samples * bag; ++k) idx_[k] = indices_[b][k];
      const std::size_t first = b * samples * dim;
      launch_bands(
          mgr, samples * dim,
          [=] UVM_HOST_DEVICE(std::size_t e) {
            const std::size_t sm = e / dim, d = e % dim;
            float sum = 0.0f;
            for (std::size_t j = 0; j < bag; ++j)
              sum += table.load(idx.load(sm * bag + j) * dim + d);
            out.store(first + e, sum);
          },
          on);
      wait_all(mgr, on);
    }
  }

  [[nodiscard]] std::string check() const override {
    // Multiples of 1/8 below 8, eight at a time: exact in float.
    return compare_exact("sum", out_.data(), want_);
  }
  [[nodiscard]] const range& result() const override { return out_.bytes(); }

 private:
  static constexpr std::size_t dim = 32, bag = 8, samples = 512, batches = 24;
  std::size_t rows_;
  std::uint64_t seed_;
  typed_range<float> table_;
  typed_range<std::uint32_t> idx_;
  typed_range<float> out_;
  std::vector<std::vector<std::uint32_t>> indices_;
  std::vector<float> want_;
};

}  // namespace uvm::workloads
