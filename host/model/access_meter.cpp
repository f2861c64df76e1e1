#include <uvm/detail/access_meter.hpp>

namespace uvm::detail {

namespace {
thread_local access_meter* installed = nullptr;

void note(std::vector<std::uint64_t>& lines, std::uint64_t first, std::uint64_t last) noexcept {
  for (std::uint64_t l = first; l <= last; ++l) {
    if (!lines.empty() && lines.back() == l) continue;
    try {
      lines.push_back(l);
    } catch (...) {
      return;  // the count comes short; the bytes still count
    }
  }
}
}  // namespace

void meter_access(device_pte e, std::uint32_t range, std::uint64_t offset,
                  std::uint64_t bytes) noexcept {
  access_meter* m = installed;
  if (m == nullptr) return;
  if (bytes == 0) bytes = 1;
  if ((e & (pte_remote | pte_peer)) == 0) {
    m->bytes += bytes;
    return;
  }
  const std::uint64_t base = std::uint64_t{range} << 44;
  const std::uint64_t first = base | (offset >> m->line_shift);
  const std::uint64_t last = base | ((offset + bytes - 1) >> m->line_shift);
  if ((e & pte_remote) != 0) {
    m->remote_bytes += bytes;
    note(m->remote_lines, first, last);
  } else {
    m->peer_bytes += bytes;
    note(m->peer_lines, first, last);
  }
}

access_meter* install_meter(access_meter* m) noexcept {
  access_meter* before = installed;
  installed = m;
  return before;
}

}  // namespace uvm::detail
