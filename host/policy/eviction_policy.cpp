#include "host/policy/eviction_policy.hpp"

#include "host/common/check.hpp"
#include "host/policy/adaptive_eviction.hpp"
#include "host/policy/arc_eviction.hpp"
#include "host/policy/clock_eviction.hpp"
#include "host/policy/dueling_eviction.hpp"
#include "host/policy/fifo_eviction.hpp"
#include "host/policy/lfu_eviction.hpp"
#include "host/policy/lirs_eviction.hpp"
#include "host/policy/lru_eviction.hpp"

namespace uvm::detail {

std::unique_ptr<eviction_policy> make_eviction_policy(std::string_view name) {
  if (name == "fifo") return std::make_unique<fifo_eviction>();
  if (name == "lru") return std::make_unique<lru_eviction>();
  if (name == "clock") return std::make_unique<clock_eviction>();
  if (name == "adaptive") return std::make_unique<adaptive_eviction>();
  if (name == "lfu") return std::make_unique<lfu_eviction>();
  if (name == "dueling") return std::make_unique<dueling_eviction>();
  if (name == "arc") return std::make_unique<arc_eviction>();
  if (name == "lirs") return std::make_unique<lirs_eviction>();
  throw_invalid(
      "unknown eviction policy '{}' (valid: fifo, lru, clock, adaptive, lfu, dueling, arc, lirs)",
      name);
}

}  // namespace uvm::detail
