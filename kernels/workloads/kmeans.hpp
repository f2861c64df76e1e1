#pragma once

// k-means (Lloyd's algorithm): every iteration a kernel streams all points, assigns each to its
// nearest centroid and writes per-chunk partial sums; the CPU reduces the partials and updates
// the centroids. Points are streamed, centroids and partials reused. Integer coordinates and
// centroids rounded to integers keep every distance exact, so the device and the CPU reference
// make the same choices.

#include "kernels/workloads/workload.hpp"

namespace uvm::workloads {

class kmeans final : public workload {
 public:
  explicit kmeans(const workload_size& z) : points_(65536u * z.scale), seed_(z.seed) {}
  [[nodiscard]] std::string_view name() const noexcept override { return "kmeans"; }

  void setup(manager& mgr) override {
    rng g(seed_);
    std::vector<std::int32_t> pts(points_ * dims);
    for (std::size_t i = 0; i < points_; ++i) {
      const std::size_t blob = g.below(clusters);
      for (std::size_t d = 0; d < dims; ++d) {
        pts[i * dims + d] =
            static_cast<std::int32_t>(blob * 97 % 1000 + (d + 1) * blob * 13 % 300 + g.below(120));
      }
    }
    std::vector<std::int32_t> centroids(clusters * dims);
    for (std::size_t c = 0; c < clusters; ++c) {
      for (std::size_t d = 0; d < dims; ++d) centroids[c * dims + d] = pts[c * 7 * dims + d];
    }
    // The reference: the same chunks, the same reductions.
    std::vector<std::int64_t> partial(chunks() * clusters * (dims + 1));
    std::vector<std::int32_t> ref = centroids;
    std::vector<std::uint32_t> assign(points_);
    for (std::size_t it = 0; it < iterations; ++it) {
      for (std::size_t ch = 0; ch < chunks(); ++ch) {
        std::int64_t* p = &partial[ch * clusters * (dims + 1)];
        for (std::size_t k = 0; k < clusters * (dims + 1); ++k) p[k] = 0;
        for (std::size_t i = ch * chunk_points; i < (ch + 1) * chunk_points; ++i) {
          const std::uint32_t best = nearest(&pts[i * dims], ref.data());
          assign[i] = best;
          for (std::size_t d = 0; d < dims; ++d) p[best * (dims + 1) + d] += pts[i * dims + d];
          p[best * (dims + 1) + dims] += 1;
        }
      }
      update(partial.data(), ref.data());
    }
    want_assign_ = std::move(assign);
    want_centroids_ = std::move(ref);
    points_r_ = upload(mgr, pts);
    centroids_ = upload(mgr, centroids);
    partial_ = mgr.allocate<std::int64_t>(partial.size());
    assign_ = mgr.allocate<std::uint32_t>(points_);
  }
  [[nodiscard]] std::vector<const range*> ranges() const override {
    return {&points_r_.bytes(), &centroids_.bytes(), &partial_.bytes(), &assign_.bytes()};
  }

  void run_on(manager& mgr, std::span<const stream> on) override {
    const auto pts = points_r_.const_view();
    const auto cen = centroids_.const_view();
    const auto part = partial_.view();
    const auto asg = assign_.view();
    for (std::size_t it = 0; it < iterations; ++it) {
      launch_bands(
          mgr, chunks(),
          [=] UVM_HOST_DEVICE(std::size_t ch) {
            constexpr std::size_t row = dims + 1;
            std::int64_t sums[clusters * row] = {};
            std::int32_t c[clusters * dims];
            for (std::size_t k = 0; k < clusters * dims; ++k) c[k] = cen.load(k);
            for (std::size_t i = ch * chunk_points; i < (ch + 1) * chunk_points; ++i) {
              std::int32_t x[dims];
              for (std::size_t d = 0; d < dims; ++d) x[d] = pts.load(i * dims + d);
              const std::uint32_t best = nearest(x, c);
              asg.store(i, best);
              for (std::size_t d = 0; d < dims; ++d) sums[best * row + d] += x[d];
              sums[best * row + dims] += 1;
            }
            for (std::size_t k = 0; k < clusters * row; ++k)
              part.store(ch * clusters * row + k, sums[k]);
          },
          on);
      wait_all(mgr, on);
      update(partial_.data(), centroids_.data());  // the CPU phase
    }
  }

  [[nodiscard]] std::string check() const override {
    std::string r = compare_exact("assignment", assign_.data(), want_assign_);
    if (r.empty()) r = compare_exact("centroid", centroids_.data(), want_centroids_);
    return r;
  }
  [[nodiscard]] const range& result() const override { return assign_.bytes(); }

 private:
  static constexpr std::size_t dims = 4, clusters = 16, chunk_points = 256, iterations = 8;
  [[nodiscard]] std::size_t chunks() const noexcept { return points_ / chunk_points; }

  UVM_HOST_DEVICE static std::uint32_t nearest(const std::int32_t* x, const std::int32_t* c) {
    std::uint32_t best = 0;
    std::int64_t best_d = -1;
    for (std::uint32_t k = 0; k < clusters; ++k) {
      std::int64_t d2 = 0;
      for (std::size_t d = 0; d < dims; ++d) {
        const std::int64_t t = x[d] - c[k * dims + d];
        d2 += t * t;
      }
      if (best_d < 0 || d2 < best_d) {
        best_d = d2;
        best = k;
      }
    }
    return best;
  }
  void update(const std::int64_t* partial, std::int32_t* centroids) const {
    for (std::size_t k = 0; k < clusters; ++k) {
      std::int64_t sum[dims + 1] = {};
      for (std::size_t ch = 0; ch < chunks(); ++ch) {
        for (std::size_t d = 0; d <= dims; ++d)
          sum[d] += partial[(ch * clusters + k) * (dims + 1) + d];
      }
      if (sum[dims] == 0) continue;  // an empty cluster keeps its centroid
      for (std::size_t d = 0; d < dims; ++d) {
        centroids[k * dims + d] = static_cast<std::int32_t>(sum[d] / sum[dims]);
      }
    }
  }

  std::size_t points_;
  std::uint64_t seed_;
  typed_range<std::int32_t> points_r_, centroids_;
  typed_range<std::int64_t> partial_;
  typed_range<std::uint32_t> assign_;
  std::vector<std::uint32_t> want_assign_;
  std::vector<std::int32_t> want_centroids_;
};

}  // namespace uvm::workloads
