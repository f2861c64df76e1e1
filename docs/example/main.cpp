// Allocate managed memory, initialise it on the CPU, run a kernel on it, read the result back.
// Built by a host compiler, the kernel body runs on the emulated device (on a machine with a GPU,
// run it with UVM_BACKEND=emulated); built by nvcc with --extended-lambda, it is a CUDA kernel.
#include <uvm/uvm.hpp>

#include <cstdio>

int main() {
  uvm::manager mgr;                 // configured from UVM_* environment variables
  const std::size_t n = 1 << 22;    // 16 MiB of floats
  auto x = mgr.allocate<float>(n);  // nothing populated yet
  auto y = mgr.allocate<float>(n);
  for (std::size_t i = 0; i < n; ++i) {  // CPU first touches: zero-filled pages, one fault each
    x[i] = 1.0f;
    y[i] = static_cast<float>(i);
  }

  auto xv = x.const_view();  // device views: pass them to kernels by value
  auto yv = y.view();
  uvm::launch(mgr, n, [=] UVM_HOST_DEVICE(std::size_t i) {  // pages move to the device on demand
    yv.store(i, 2.0f * xv.load(i) + yv.load(i));
  });
  mgr.synchronize();  // waits, and reports device errors as exceptions

  double sum = 0;
  for (std::size_t i = 0; i < n; ++i) sum += y[i];  // y's pages come back; x's need not

  const uvm::stats s = mgr.stats();
  std::printf("sum %.0f | CPU faults %llu | device faults %llu | H2D %llu MiB, D2H %llu MiB\n", sum,
              static_cast<unsigned long long>(s.cpu_faults()),
              static_cast<unsigned long long>(s.device.count),
              static_cast<unsigned long long>(s.bytes_host_to_device >> 20),
              static_cast<unsigned long long>(s.bytes_device_to_host >> 20));
  const double expect = 2.0 * n + (static_cast<double>(n) - 1) * n / 2;
  return sum == expect && s.bytes_device_to_host == n * sizeof(float) ? 0 : 1;
}
