#pragma once

// The messages of the cluster's write-invalidate protocol, as they travel between processes:
// a fixed header, followed by one page of data where `with_data` says so.
//
//   requester -> home    request_read, request_write
//   home -> holders      invalidate (drop a read-only copy), recall (give back the writable one,
//                        keeping a read-only copy or none)
//   holders -> home      invalidate_ack, recall_ack (with the page's data, unless the holder is
//                        the home itself)
//   home -> requester    grant (with the data, unless the requester holds a valid copy), or
//                        failure (the page cannot be served: see failure_reason)
//
// Every message from a home to a process leaves the home's one sending thread in order, so a
// process sees a page's grant before any later invalidation or recall of the same page.

#include <cstdint>
#include <string_view>

namespace uvm::detail {

/// What a process may do with its copy of a page.
enum class page_access : std::uint8_t { none = 0, read = 1, write = 2 };

enum class message_kind : std::uint8_t {
  request_read,
  request_write,
  grant,
  invalidate,
  recall,
  invalidate_ack,
  recall_ack,
  failure,
};

enum class failure_reason : std::uint8_t {
  none,
  /// The only valid copy was on `rank`, which did not give it back within the timeout.
  lost,
  /// `rank` did not acknowledge an invalidation within the timeout, so no write may proceed.
  unanswered,
};

struct message_header {
  message_kind kind{};
  page_access access{};  ///< request: what is asked; grant: what is granted; recall: what is kept
  bool with_data = false;
  failure_reason reason = failure_reason::none;
  std::int32_t rank = -1;  ///< failure: the rank that did not answer
  std::uint64_t page = 0;
};

[[nodiscard]] constexpr std::string_view to_string(message_kind k) noexcept {
  switch (k) {
    case message_kind::request_read: return "request_read";
    case message_kind::request_write: return "request_write";
    case message_kind::grant: return "grant";
    case message_kind::invalidate: return "invalidate";
    case message_kind::recall: return "recall";
    case message_kind::invalidate_ack: return "invalidate_ack";
    case message_kind::recall_ack: return "recall_ack";
    case message_kind::failure: return "failure";
  }
  return "unknown";
}

}  // namespace uvm::detail
