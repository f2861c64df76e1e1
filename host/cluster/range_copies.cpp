#include "host/cluster/range_copies.hpp"

#include "host/common/check.hpp"
#include "host/common/clock.hpp"

#include <uvm/error.hpp>

#include <fmt/format.h>

namespace uvm::detail {

page_word range_copies::claim(std::size_t page) {
  const timespec deadline = deadline_after(timeout_);
  page_word w = range_.pages().load(page);
  for (;;) {
    if ((w & busy_bit) == 0) {
      if (range_.pages().try_claim(page, w)) return w;
      continue;
    }
    if (!range_.pages().wait_until_idle(page, deadline)) {
      throw uvm::timeout(fmt::format("cluster: page {} of the range at {} stayed busy", page,
                                     static_cast<void*>(range_.base())));
    }
    w = range_.pages().load(page);
  }
}

void range_copies::change(std::size_t page, page_word claimed, page_state to) {
  const page_state from = stored_state(claimed);
  // set_access, not commit: a gated page never coarsens to read-write near the mapping limit,
  // which would let this process write without the home's grant.
  const int err = range_.set_access(page, 1, from, to, false);
  range_.pages().publish(page, err == 0 ? to : from);
  if (err != 0) throw_system(fmt::format("changing the protection of cluster page {}", page), err);
}

void range_copies::do_allow(std::size_t page, page_access a) {
  const page_word w = claim(page);
  const page_state to = a == page_access::write ? page_state::host_exclusive : page_state::shared;
  if (host_access_of(stored_state(w)) >= host_access_of(to)) {
    range_.pages().publish(page, stored_state(w));
    return;
  }
  change(page, w, to);
}

void range_copies::do_narrow(std::size_t page, page_access a) {
  const page_word w = claim(page);
  const page_state from = stored_state(w);
  const page_state to = a == page_access::none                            ? page_state::unpopulated
                        : host_access_of(from) == host_access::read_write ? page_state::shared
                                                                          : from;
  if (to == from) {
    range_.pages().publish(page, from);
    return;
  }
  change(page, w, to);
}

}  // namespace uvm::detail
