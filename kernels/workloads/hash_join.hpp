#pragma once

// Hash join: build a hash table on the smaller table R, probe it with a table S four times
// larger. Radix-partitioned, as GPU joins run it: the CPU partitions R by the hash's low bits
// (each partition gets its own region of the table, twice its size), one kernel thread builds
// each partition's region with linear probing (no atomics), then one thread per S row probes.
// The probe reads S once, in order, and the table at random.

#include "kernels/workloads/workload.hpp"

#include <unordered_map>
#include <unordered_set>

namespace uvm::workloads {

class hash_join final : public workload {
 public:
  explicit hash_join(const workload_size& z) : build_rows_(65536u * z.scale), seed_(z.seed) {}
  [[nodiscard]] std::string_view name() const noexcept override { return "hash-join"; }

  void setup(manager& mgr) override {
    rng g(seed_);
    std::vector<std::uint32_t> keys;
    std::unordered_set<std::uint32_t> seen;
    while (keys.size() < build_rows_) {
      const auto k = static_cast<std::uint32_t>(g.next() | 1u);  // 0 marks an empty slot
      if (seen.insert(k).second) keys.push_back(k);
    }
    // The CPU phase of the build: partition R by hash.
    std::vector<std::uint32_t> offset(partitions + 1, 0);
    for (const std::uint32_t k : keys) ++offset[(hash(k) & (partitions - 1)) + 1];
    for (std::size_t p = 0; p < partitions; ++p) offset[p + 1] += offset[p];
    std::vector<std::uint32_t> cursor(offset.begin(), offset.end() - 1);
    std::vector<std::uint32_t> r_keys(build_rows_), r_vals(build_rows_);
    std::unordered_map<std::uint32_t, std::uint32_t> ref;
    for (std::size_t i = 0; i < build_rows_; ++i) {
      const std::uint32_t at = cursor[hash(keys[i]) & (partitions - 1)]++;
      r_keys[at] = keys[i];
      r_vals[at] = static_cast<std::uint32_t>(i);
      ref.emplace(keys[i], static_cast<std::uint32_t>(i));
    }
    // S: half its rows match a row of R, half (almost surely) match none.
    const std::size_t probe_rows = 4 * build_rows_;
    std::vector<std::uint32_t> s_keys(probe_rows);
    want_.resize(probe_rows);
    for (std::size_t i = 0; i < probe_rows; ++i) {
      s_keys[i] =
          i % 2 == 0 ? keys[g.below(build_rows_)] : static_cast<std::uint32_t>(g.next() | 1u);
      const auto it = ref.find(s_keys[i]);
      want_[i] = it == ref.end() ? no_match : it->second;
    }
    r_keys_ = upload(mgr, r_keys);
    r_vals_ = upload(mgr, r_vals);
    offset_ = upload(mgr, offset);
    s_keys_ = upload(mgr, s_keys);
    table_keys_ = mgr.allocate<std::uint32_t>(2 * build_rows_);
    table_vals_ = mgr.allocate<std::uint32_t>(2 * build_rows_);
    out_ = mgr.allocate<std::uint32_t>(probe_rows);
  }
  [[nodiscard]] std::vector<const range*> ranges() const override {
    return {&r_keys_.bytes(),     &r_vals_.bytes(),     &offset_.bytes(), &s_keys_.bytes(),
            &table_keys_.bytes(), &table_vals_.bytes(), &out_.bytes()};
  }

  void run_on(manager& mgr, std::span<const stream> on) override {
    const auto rk = r_keys_.const_view();
    const auto rv = r_vals_.const_view();
    const auto off = offset_.const_view();
    const auto sk = s_keys_.const_view();
    const auto tk = table_keys_.view();
    const auto tv = table_vals_.view();
    const auto out = out_.view();
    launch_bands(
        mgr, partitions,
        [=] UVM_HOST_DEVICE(std::size_t p) {
          const std::uint32_t first = off.load(p), last = off.load(p + 1);
          const std::uint32_t base = 2 * first, size = 2 * (last - first);
          for (std::uint32_t i = first; i < last; ++i) {
            const std::uint32_t k = rk.load(i);
            std::uint32_t slot = (hash(k) >> partition_bits) % size;
            while (tk.load(base + slot) != 0) slot = slot + 1 == size ? 0 : slot + 1;
            tk.store(base + slot, k);
            tv.store(base + slot, rv.load(i));
          }
        },
        on);
    launch_bands(
        mgr, s_keys_.size(),
        [=] UVM_HOST_DEVICE(std::size_t i) {
          const std::uint32_t k = sk.load(i);
          const std::uint32_t h = hash(k), p = h & (partitions - 1);
          const std::uint32_t base = 2 * off.load(p), size = 2 * off.load(p + 1) - base;
          std::uint32_t found = no_match;
          for (std::uint32_t slot = size == 0 ? 0 : (h >> partition_bits) % size, n = 0; n < size;
               ++n, slot = slot + 1 == size ? 0 : slot + 1) {
            const std::uint32_t t = tk.load(base + slot);
            if (t == 0) break;
            if (t == k) {
              found = tv.load(base + slot);
              break;
            }
          }
          out.store(i, found);
        },
        on);
    wait_all(mgr, on);
  }

  [[nodiscard]] std::string check() const override {
    return compare_exact("match", out_.data(), want_);
  }
  [[nodiscard]] const range& result() const override { return out_.bytes(); }

 private:
  static constexpr std::uint32_t partition_bits = 8, partitions = 1u << partition_bits;
  static constexpr std::uint32_t no_match = 0xffffffffu;
  UVM_HOST_DEVICE static std::uint32_t hash(std::uint32_t k) {
    k ^= k >> 16;
    k *= 0x7feb352du;
    k ^= k >> 15;
    k *= 0x846ca68bu;
    return k ^ (k >> 16);
  }

  std::size_t build_rows_;
  std::uint64_t seed_;
  typed_range<std::uint32_t> r_keys_, r_vals_, offset_, s_keys_, table_keys_, table_vals_, out_;
  std::vector<std::uint32_t> want_;
};

}  // namespace uvm::workloads
