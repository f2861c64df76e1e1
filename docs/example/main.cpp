// Allocates managed memory, fills it on the CPU, and prints what the runtime observed.
#include <uvm/uvm.hpp>

#include <cstdio>
#include <numeric>

int main() {
  uvm::manager mgr;                        // configured from UVM_* environment variables
  auto v = mgr.allocate<double>(1 << 20);  // 8 MiB, nothing populated yet
  std::iota(v.begin(), v.end(), 0.0);      // each first touch of a page is one fault
  const double sum = std::accumulate(v.begin(), v.end(), 0.0);

  const uvm::stats s = mgr.stats();
  std::printf("sum %.0f, %llu first-touch faults, median %lld ns\n", sum,
              static_cast<unsigned long long>(s.first_touch.count),
              static_cast<long long>(s.first_touch.latency.quantile(0.5).count()));
  const double n = static_cast<double>(v.size());
  return sum == n * (n - 1) / 2 && s.first_touch.count == v.bytes().page_count() ? 0 : 1;
}
