#include "host/cluster/directory.hpp"

#include <gtest/gtest.h>

#include <vector>

namespace uvm::detail {
namespace {

using outs = std::vector<directory::out>;

// Whether `o` is a message of `kind` for `page` to `to`.
::testing::AssertionResult is(const directory::out& o, int to, message_kind kind,
                              std::uint64_t page) {
  if (o.to == to && o.header.kind == kind && o.header.page == page) {
    return ::testing::AssertionSuccess();
  }
  return ::testing::AssertionFailure()
         << to_string(o.header.kind) << " of page " << o.header.page << " to " << o.to
         << ", expected " << to_string(kind) << " of page " << page << " to " << to;
}

TEST(Directory, AFirstReadIsGrantedAtOnceWithTheHomesData) {
  directory d;
  outs o;
  d.request(7, 2, page_access::read, 0, o);
  ASSERT_EQ(o.size(), 1u);
  EXPECT_TRUE(is(o[0], 2, message_kind::grant, 7));
  EXPECT_EQ(o[0].header.access, page_access::read);
  EXPECT_TRUE(o[0].header.with_data);
  EXPECT_EQ(d.holders_of(7).sharers, 1u << 2);
  EXPECT_EQ(d.busy(), 0u);
}

TEST(Directory, AWriteInvalidatesEveryOtherCopyBeforeItIsGranted) {
  directory d;
  outs o;
  for (int r : {0, 1, 3}) d.request(5, r, page_access::read, 0, o);
  o.clear();
  d.request(5, 1, page_access::write, 0, o);
  ASSERT_EQ(o.size(), 2u);  // ranks 0 and 3; not the requester
  EXPECT_TRUE(is(o[0], 0, message_kind::invalidate, 5));
  EXPECT_TRUE(is(o[1], 3, message_kind::invalidate, 5));
  o.clear();
  d.acknowledged(5, 3, message_kind::invalidate_ack, o);
  EXPECT_TRUE(o.empty()) << "granted before rank 0 dropped its copy";
  d.acknowledged(5, 0, message_kind::invalidate_ack, o);
  ASSERT_EQ(o.size(), 1u);
  EXPECT_TRUE(is(o[0], 1, message_kind::grant, 5));
  EXPECT_EQ(o[0].header.access, page_access::write);
  EXPECT_FALSE(o[0].header.with_data) << "rank 1 held a valid copy";
  const directory::holders h = d.holders_of(5);
  EXPECT_EQ(h.owner, 1);
  EXPECT_EQ(h.sharers, 0u);
}

TEST(Directory, AReadOfAPageWrittenElsewhereRecallsItAndLeavesBothReadOnly) {
  directory d;
  outs o;
  d.request(9, 2, page_access::write, 0, o);
  ASSERT_EQ(o.size(), 1u);
  EXPECT_TRUE(o[0].header.with_data) << "rank 2 had no copy";
  o.clear();
  d.request(9, 0, page_access::read, 0, o);
  ASSERT_EQ(o.size(), 1u);
  EXPECT_TRUE(is(o[0], 2, message_kind::recall, 9));
  EXPECT_EQ(o[0].header.access, page_access::read);
  o.clear();
  d.acknowledged(9, 2, message_kind::recall_ack, o);
  ASSERT_EQ(o.size(), 1u);
  EXPECT_TRUE(is(o[0], 0, message_kind::grant, 9));
  EXPECT_TRUE(o[0].header.with_data);
  const directory::holders h = d.holders_of(9);
  EXPECT_EQ(h.owner, -1);
  EXPECT_EQ(h.sharers, (1u << 0) | (1u << 2));
}

TEST(Directory, AWriteRecallsTheOwnersCopyEntirely) {
  directory d;
  outs o;
  d.request(1, 3, page_access::write, 0, o);
  o.clear();
  d.request(1, 1, page_access::write, 0, o);
  ASSERT_EQ(o.size(), 1u);
  EXPECT_TRUE(is(o[0], 3, message_kind::recall, 1));
  EXPECT_EQ(o[0].header.access, page_access::none);
  o.clear();
  d.acknowledged(1, 3, message_kind::recall_ack, o);
  ASSERT_EQ(o.size(), 1u);
  EXPECT_TRUE(is(o[0], 1, message_kind::grant, 1));
  EXPECT_EQ(d.holders_of(1).owner, 1);
  EXPECT_EQ(d.holders_of(1).sharers, 0u);
}

TEST(Directory, RequestsForABusyPageWaitAndAreServedInArrivalOrder) {
  directory d;
  outs o;
  d.request(4, 0, page_access::write, 0, o);
  o.clear();
  d.request(4, 1, page_access::write, 0, o);  // recalls from 0
  d.request(4, 2, page_access::read, 0, o);   // queued
  d.request(4, 3, page_access::write, 0, o);  // queued
  ASSERT_EQ(o.size(), 1u);
  EXPECT_TRUE(d.holders_of(4).busy);
  o.clear();
  d.acknowledged(4, 0, message_kind::recall_ack, o);
  // Rank 1's grant, then rank 2's read recalls from the new owner, 1.
  ASSERT_EQ(o.size(), 2u);
  EXPECT_TRUE(is(o[0], 1, message_kind::grant, 4));
  EXPECT_TRUE(is(o[1], 1, message_kind::recall, 4));
  o.clear();
  d.acknowledged(4, 1, message_kind::recall_ack, o);
  // Rank 2's grant, then rank 3's write invalidates 1 and 2.
  ASSERT_EQ(o.size(), 3u);
  EXPECT_TRUE(is(o[0], 2, message_kind::grant, 4));
  EXPECT_TRUE(is(o[1], 1, message_kind::invalidate, 4));
  EXPECT_TRUE(is(o[2], 2, message_kind::invalidate, 4));
}

TEST(Directory, AnAcknowledgementNobodyWaitsForChangesNothing) {
  directory d;
  outs o;
  d.request(2, 0, page_access::read, 0, o);
  o.clear();
  d.acknowledged(2, 0, message_kind::invalidate_ack, o);
  d.acknowledged(3, 1, message_kind::recall_ack, o);
  EXPECT_TRUE(o.empty());
  EXPECT_EQ(d.holders_of(2).sharers, 1u);
}

TEST(Directory, ARecallNotAnsweredInTimeReportsThePageLostToEveryRequester) {
  directory d;
  outs o;
  d.request(6, 1, page_access::write, 0, o);
  o.clear();
  d.request(6, 0, page_access::read, 100, o);
  d.request(6, 2, page_access::write, 150, o);
  o.clear();
  d.expire(1099, 1000, o);
  EXPECT_TRUE(o.empty()) << "expired before the timeout";
  d.expire(1100, 1000, o);
  ASSERT_EQ(o.size(), 2u);
  for (const directory::out& f : o) {
    EXPECT_EQ(f.header.kind, message_kind::failure);
    EXPECT_EQ(f.header.reason, failure_reason::lost);
    EXPECT_EQ(f.header.rank, 1);
  }
  EXPECT_EQ(o[0].to, 0);
  EXPECT_EQ(o[1].to, 2);
  EXPECT_EQ(d.busy(), 0u);
  // Later requests fail too, and a late acknowledgement does not revive the page.
  o.clear();
  d.acknowledged(6, 1, message_kind::recall_ack, o);
  d.request(6, 3, page_access::read, 2000, o);
  ASSERT_EQ(o.size(), 1u);
  EXPECT_TRUE(is(o[0], 3, message_kind::failure, 6));
}

TEST(Directory, AnInvalidationNotAcknowledgedInTimeNamesTheSilentRank) {
  directory d;
  outs o;
  d.request(8, 2, page_access::read, 0, o);
  d.request(8, 3, page_access::read, 0, o);
  o.clear();
  d.request(8, 0, page_access::write, 10, o);
  d.acknowledged(8, 2, message_kind::invalidate_ack, o);
  o.clear();
  d.expire(2000, 1000, o);
  ASSERT_EQ(o.size(), 1u);
  EXPECT_EQ(o[0].header.reason, failure_reason::unanswered);
  EXPECT_EQ(o[0].header.rank, 3);
}

}  // namespace
}  // namespace uvm::detail
