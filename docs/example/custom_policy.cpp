// An application's own migration policies, installed through uvm::config: a most-recently-
// resident eviction policy (the right choice for a loop over more data than the device holds)
// and a prefetch policy that moves the next page along with each faulting one. A layer-by-
// layer sweep over 4x the device budget runs with them, and the program checks its result
// and that both policies were used.
#include <uvm/launch.hpp>
#include <uvm/policy.hpp>
#include <uvm/uvm.hpp>

#include <cstdio>
#include <list>
#include <memory>
#include <unordered_map>

namespace {

// Evicts the page that became resident last: in a loop too big for the device, a fixed part of
// the data then stays resident from pass to pass, where fifo and lru evict each page just
// before it is needed again.
class most_recent_eviction final : public uvm::eviction_policy {
 private:
  void do_on_resident(uvm::page_ref p) override {
    if (where_.contains(p)) return;
    order_.push_back(p);
    where_[p] = std::prev(order_.end());
  }
  void do_on_access(uvm::page_ref) override {}  // only the arrival order matters
  void do_on_released(uvm::page_ref p) override {
    if (auto it = where_.find(p); it != where_.end()) {
      order_.erase(it->second);
      where_.erase(it);
    }
  }
  std::optional<uvm::page_ref> do_victim() override {
    if (order_.empty()) return std::nullopt;
    return order_.back();
  }
  std::size_t do_size() const noexcept override { return order_.size(); }
  std::string_view do_name() const noexcept override { return "most-recent"; }
  bool do_uses_accesses() const noexcept override { return false; }  // no accessed-bit scans

  std::list<uvm::page_ref> order_;
  std::unordered_map<uvm::page_ref, std::list<uvm::page_ref>::iterator, uvm::page_ref_hash> where_;
};

// Moves the page after the faulting one too, if it is in the same 2 MiB block and not there yet.
class next_page_prefetch final : public uvm::prefetch_policy {
 public:
  std::size_t asked = 0;

 private:
  void do_expand(std::size_t faulting, const uvm::block_state& block,
                 std::vector<std::size_t>& out) override {
    ++asked;
    const std::size_t next = faulting + 1;
    if (next < block.first_page + block.page_count && !block.resident(next) &&
        !block.thrashing(next)) {
      out.push_back(next);
    }
  }
  std::string_view do_name() const noexcept override { return "next-page"; }
};

}  // namespace

int main() {
  constexpr std::size_t page = 64 << 10, pages = 256;
  uvm::config cfg = uvm::config::from_env();
  cfg.page_size = page;
  cfg.device_budget = pages / 4 * page;  // a quarter of the data fits
  cfg.custom_eviction = [] { return std::make_unique<most_recent_eviction>(); };
  next_page_prefetch* prefetch = nullptr;  // owned by the manager; read below for the report
  cfg.custom_prefetch = [&prefetch] {
    auto p = std::make_unique<next_page_prefetch>();
    prefetch = p.get();
    return p;
  };
  uvm::manager mgr(cfg);

  const std::size_t per_page = page / sizeof(float);
  auto data = mgr.allocate<float>(pages * per_page);
  for (std::size_t i = 0; i < data.size(); ++i) data[i] = 1.0f;
  auto v = data.view();
  constexpr int passes = 4;
  for (int pass = 0; pass < passes; ++pass) {
    // A stream of 16-page layers, each updated by a kernel. The first pass faults its pages in
    // (the prefetch policy adds the next page to each fault; past the budget they run remote);
    // later passes prefetch each layer first, evicting by the eviction policy.
    for (std::size_t layer = 0; layer < pages; layer += 16) {
      if (pass > 0)
        mgr.prefetch(data.data() + layer * per_page, 16 * page, uvm::location::device());
      uvm::launch(mgr, 16 * per_page, [=] UVM_HOST_DEVICE(std::size_t i) {
        const std::size_t at = layer * per_page + i;
        v.store(at, v.load(at) + 1.0f);
      });
      // Frames are reclaimed only between kernels: a prefetch queued behind the next launch
      // would find a kernel in flight and leave its pages remote.
      mgr.synchronize();
    }
  }
  mgr.synchronize();

  std::size_t wrong = 0;
  for (std::size_t i = 0; i < data.size(); ++i) wrong += data[i] != 1.0f + passes ? 1 : 0;
  const uvm::stats s = mgr.stats();
  std::printf("wrong %zu | evictions %llu | prefetched %llu | prefetch policy asked %zu times\n",
              wrong, static_cast<unsigned long long>(s.evictions),
              static_cast<unsigned long long>(s.prefetched_pages),
              prefetch != nullptr ? prefetch->asked : 0);
  return wrong == 0 && s.evictions > 0 && prefetch != nullptr && prefetch->asked > 0 ? 0 : 1;
}
