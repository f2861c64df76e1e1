#pragma once

// Every workload of kernels/workloads/, by name: what `uvm-bench workloads` runs and what the
// workload tests check.

#include "kernels/workloads/bfs.hpp"
#include "kernels/workloads/embedding_gather.hpp"
#include "kernels/workloads/hash_join.hpp"
#include "kernels/workloads/jacobi.hpp"
#include "kernels/workloads/kmeans.hpp"
#include "kernels/workloads/layer_streaming.hpp"
#include "kernels/workloads/matmul.hpp"
#include "kernels/workloads/spmv.hpp"
#include "kernels/workloads/workload.hpp"

#include <array>
#include <memory>
#include <string_view>

namespace uvm::workloads {

inline constexpr std::array<std::string_view, 8> workload_names = {
    "matmul",          "jacobi",          "bfs", "spmv", "kmeans", "hash-join",
    "layer-streaming", "embedding-gather"};

/// @return the workload called `name`, or nullptr.
[[nodiscard]] inline std::unique_ptr<workload> make_workload(std::string_view name,
                                                             const workload_size& z) {
  if (name == "matmul") return std::make_unique<matmul>(z);
  if (name == "jacobi") return std::make_unique<jacobi>(z);
  if (name == "bfs") return std::make_unique<bfs>(z);
  if (name == "spmv") return std::make_unique<spmv>(z);
  if (name == "kmeans") return std::make_unique<kmeans>(z);
  if (name == "hash-join") return std::make_unique<hash_join>(z);
  if (name == "layer-streaming") return std::make_unique<layer_streaming>(z);
  if (name == "embedding-gather") return std::make_unique<embedding_gather>(z);
  return nullptr;
}

}  // namespace uvm::workloads
