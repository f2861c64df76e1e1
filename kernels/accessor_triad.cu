// The STREAM triad through the accessor, compiled to PTX so a test can read what the fast path
// costs: one relaxed device-scope load of the page-table entry per access, no fence; acquire
// loads only in the fault path's wait. (uvm-bench access-overhead runs the same loop.)
#include <uvm/device_view.hpp>

__global__ void uvm_accessor_triad(uvm::device_view<float> a, uvm::const_device_view<float> b,
                                   uvm::const_device_view<float> c, float scalar) {
  const std::size_t i = blockIdx.x * static_cast<std::size_t>(blockDim.x) + threadIdx.x;
  if (i < a.size()) a.store(i, b.load(i) + scalar * c.load(i));
}
