#pragma once

// "dueling": set dueling between candidate policies (lru, lfu, adaptive). Each candidate also
// runs on a shadow device as large as the real one (page ids only, no data): every page the
// real device receives or uses is a reference to each shadow, which hits or misses as that
// candidate would have. Misses are counted with a decay (halved every few device-fulls of
// references), and the real victim is the one the candidate with the fewest recent misses
// names among the real resident pages. So loops too big for the device get adaptive's MRU,
// skewed popularity gets lfu, and the rest lru, switching when the phase of the program does.
//
// On a large device (from `large_device` pages resident) the duel is sampled, as set dueling in
// caches samples sets: the shadows see only the pages whose hash falls in 1 of 16 (a shadow
// device 1/16 the size, which misses in the same proportion: spatially hashed sampling), and
// only the leader runs on the real pages (lru first, the cheapest); a new leader takes over the
// resident pages in the order the old one would have evicted them. Per page moved, that is about
// one policy's work instead of six, which a migration of 4 KiB pages at memory bandwidth cannot
// afford.

#include "host/policy/eviction_policy.hpp"

#include <cstdint>
#include <initializer_list>
#include <memory>
#include <memory_resource>
#include <string>
#include <unordered_set>
#include <vector>

namespace uvm::detail {

class dueling_eviction final : public eviction_policy {
 public:
  /// Resident pages from which the duel is sampled.
  static constexpr std::size_t large_device = 8192;
  static constexpr unsigned sample_shift = 4;  ///< 1 page in 16

  /// The shipped candidates: lru, lfu, adaptive.
  dueling_eviction();
  /// A duel between the policies named (as make_eviction_policy names them). adaptive, if
  /// named, leads at first (lru until it sees a loop), else the first; on a large device the
  /// first leads until the sampled duel says otherwise.
  explicit dueling_eviction(std::initializer_list<std::string_view> candidates);
  /// The name of the candidate whose victims are used now.
  [[nodiscard]] std::string_view leader() const noexcept;

 private:
  struct shadow {
    std::unique_ptr<eviction_policy> policy;
    std::pmr::unordered_set<page_ref, page_ref_hash> resident;
  };

  void do_on_resident(page_ref p) override;
  void do_on_access(page_ref p) override;
  void do_on_released(page_ref p) override;
  std::optional<page_ref> do_victim() override { return real_[leader_]->victim(); }
  std::size_t do_size() const noexcept override { return real_[leader_]->size(); }
  std::string_view do_name() const noexcept override { return "dueling"; }

  void reference(page_ref p);
  [[nodiscard]] bool sampled(page_ref p) const noexcept;
  // From `large_device` pages on: shadows restart sampled, the other candidates stop.
  void become_large();
  void take_lead(std::size_t k);
  [[nodiscard]] std::unique_ptr<eviction_policy> make_candidate(std::size_t k) const;

  // Fed the real device's events: every candidate on a small device, the leader only (the
  // others null) on a large one.
  std::pmr::unsynchronized_pool_resource pool_;  // first: outlives the shadows' sets (no malloc)
  std::vector<std::string> names_;
  std::vector<std::unique_ptr<eviction_policy>> real_;
  bool large_ = false;
  std::vector<shadow> shadows_;
  std::vector<std::uint64_t> misses_;  // decayed
  std::size_t leader_ = 0;
  std::size_t peak_ = 0;  // most pages ever resident: the shadows' size
  std::uint64_t since_decay_ = 0;
};

}  // namespace uvm::detail
