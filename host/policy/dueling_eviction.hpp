#pragma once

// "dueling": set dueling between candidate policies (lru, lfu, adaptive). Each candidate also
// runs on a shadow device as large as the real one (page ids only, no data): every page the
// real device receives or uses is a reference to each shadow, which hits or misses as that
// candidate would have. Misses are counted with a decay (halved every few device-fulls of
// references), and the real victim is the one the candidate with the fewest recent misses
// names among the real resident pages. So loops too big for the device get adaptive's MRU,
// skewed popularity gets lfu, and the rest lru, switching when the phase of the program does.

#include "host/policy/eviction_policy.hpp"

#include <array>
#include <cstdint>
#include <memory>
#include <unordered_set>

namespace uvm::detail {

class dueling_eviction final : public eviction_policy {
 public:
  dueling_eviction();
  /// The name of the candidate whose victims are used now.
  [[nodiscard]] std::string_view leader() const noexcept;

 private:
  static constexpr std::size_t candidates = 3;
  struct shadow {
    std::unique_ptr<eviction_policy> policy;
    std::unordered_set<page_ref, page_ref_hash> resident;
  };

  void do_on_resident(page_ref p) override;
  void do_on_access(page_ref p) override;
  void do_on_released(page_ref p) override;
  std::optional<page_ref> do_victim() override { return real_[leader_]->victim(); }
  std::size_t do_size() const noexcept override { return real_[0]->size(); }
  std::string_view do_name() const noexcept override { return "dueling"; }

  void reference(page_ref p);

  std::array<std::unique_ptr<eviction_policy>, candidates> real_;  // fed the real device's events
  std::array<shadow, candidates> shadows_;
  std::array<std::uint64_t, candidates> misses_{};  // decayed
  std::size_t leader_ = 2;  // adaptive: lru until it sees a loop
  std::size_t peak_ = 0;  // most pages ever resident: the shadows' size
  std::uint64_t since_decay_ = 0;
};

}  // namespace uvm::detail
