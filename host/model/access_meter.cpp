#include <uvm/detail/access_meter.hpp>

namespace uvm::detail {

namespace {
thread_local access_meter* installed = nullptr;
}  // namespace

void meter_access(device_pte e, std::uint64_t offset, std::uint64_t bytes) noexcept {
  access_meter* m = installed;
  if (m == nullptr) return;
  if (bytes == 0) bytes = 1;
  if ((e & (pte_remote | pte_peer)) == 0) {
    m->bytes += bytes;
    return;
  }
  const std::uint64_t lines =
      ((offset + bytes - 1) >> m->line_shift) - (offset >> m->line_shift) + 1;
  ((e & pte_remote) != 0 ? m->remote_lines : m->peer_lines) += lines;
}

access_meter* install_meter(access_meter* m) noexcept {
  access_meter* before = installed;
  installed = m;
  return before;
}

}  // namespace uvm::detail
