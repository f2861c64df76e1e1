#pragma once

// Breadth-first search on a Kronecker graph (Graph500's generator: R-MAT with a = 0.57,
// b = c = 0.19, undirected, vertex labels permuted), in CSR form. Level-synchronous and
// top-down: one kernel per level scans every vertex, expands those on the frontier, and the
// CPU reads a flag to decide whether to go on. Accesses to the edge array follow the frontier:
// irregular, with a hot core of high-degree vertices.

#include "kernels/workloads/workload.hpp"

#include <algorithm>
#include <numeric>

namespace uvm::workloads {

class bfs final : public workload {
 public:
  explicit bfs(const workload_size& z) : log_vertices_(13 + z.scale), seed_(z.seed) {}
  [[nodiscard]] std::string_view name() const noexcept override { return "bfs"; }

  void setup(manager& mgr) override {
    rng g(seed_);
    const std::uint32_t v = 1u << log_vertices_;
    const std::size_t edges = std::size_t{edge_factor} * v;
    std::vector<std::uint32_t> perm(v);
    std::iota(perm.begin(), perm.end(), 0u);
    for (std::size_t i = v - 1; i > 0; --i) std::swap(perm[i], perm[g.below(i + 1)]);
    std::vector<std::pair<std::uint32_t, std::uint32_t>> list;
    list.reserve(2 * edges);
    for (std::size_t e = 0; e < edges; ++e) {
      std::uint32_t from = 0, to = 0;
      for (unsigned bit = 0; bit < log_vertices_; ++bit) {
        const double r = g.unit();
        const unsigned quadrant = r < 0.57 ? 0 : r < 0.76 ? 1 : r < 0.95 ? 2 : 3;
        from |= (quadrant >> 1) << bit;
        to |= (quadrant & 1u) << bit;
      }
      if (from == to) continue;
      list.emplace_back(perm[from], perm[to]);
      list.emplace_back(perm[to], perm[from]);
    }
    std::sort(list.begin(), list.end());
    std::vector<std::uint32_t> row(v + 1, 0), col(list.size());
    for (std::size_t i = 0; i < list.size(); ++i) {
      ++row[list[i].first + 1];
      col[i] = list[i].second;
    }
    std::partial_sum(row.begin(), row.end(), row.begin());
    // The source: the vertex of highest degree (in the giant component).
    source_ = 0;
    for (std::uint32_t i = 0; i < v; ++i) {
      if (row[i + 1] - row[i] > row[source_ + 1] - row[source_]) source_ = i;
    }
    // The reference levels.
    want_.assign(v, unvisited);
    want_[source_] = 0;
    std::vector<std::uint32_t> frontier{source_}, next;
    for (std::uint32_t level = 0; !frontier.empty(); ++level) {
      next.clear();
      for (const std::uint32_t x : frontier) {
        for (std::uint32_t k = row[x]; k < row[x + 1]; ++k) {
          if (want_[col[k]] == unvisited) {
            want_[col[k]] = level + 1;
            next.push_back(col[k]);
          }
        }
      }
      frontier.swap(next);
    }
    row_ = upload(mgr, row);
    col_ = upload(mgr, col);
    level_ = upload(mgr, std::vector<std::uint32_t>(v, unvisited));
    level_[source_] = 0;
    flag_ = mgr.allocate<std::uint32_t>(1);
  }
  [[nodiscard]] std::vector<const range*> ranges() const override {
    return {&row_.bytes(), &col_.bytes(), &level_.bytes(), &flag_.bytes()};
  }

  void run_on(manager& mgr, std::span<const stream> on) override {
    const auto row = row_.const_view();
    const auto col = col_.const_view();
    const auto level = level_.view();
    const auto flag = flag_.view();
    const std::size_t v = level_.size();
    for (std::uint32_t depth = 0;; ++depth) {
      flag_[0] = 0;
      launch_bands(
          mgr, v,
          [=] UVM_HOST_DEVICE(std::size_t x) {
            if (level.load(x) != depth) return;
            bool grew = false;
            for (std::uint32_t k = row.load(x), end = row.load(x + 1); k < end; ++k) {
              const std::uint32_t y = col.load(k);
              // Racing stores write the same value: no atomics needed.
              if (level.load(y) == unvisited) {
                level.store(y, depth + 1);
                grew = true;
              }
            }
            if (grew) flag.store(0, 1u);
          },
          on);
      wait_all(mgr, on);
      if (flag_[0] == 0) break;  // the CPU phase: is the frontier empty?
    }
  }

  [[nodiscard]] std::string check() const override {
    return compare_exact("level", level_.data(), want_);
  }
  [[nodiscard]] const range& result() const override { return level_.bytes(); }

 private:
  static constexpr std::uint32_t unvisited = 0xffffffffu;
  static constexpr unsigned edge_factor = 16;
  unsigned log_vertices_;
  std::uint64_t seed_;
  std::uint32_t source_ = 0;
  typed_range<std::uint32_t> row_, col_, level_, flag_;
  std::vector<std::uint32_t> want_;
};

}  // namespace uvm::workloads
