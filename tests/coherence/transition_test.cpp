#include "host/coherence/transition.hpp"

#include <gtest/gtest.h>

namespace uvm::detail {
namespace {

page_word word(page_state s, page_word flags = 0) {
  return static_cast<page_word>(s) | flags;
}

TEST(Transition, FirstTouchPopulatesForAnyAccess) {
  for (access a : {access::read, access::write}) {
    const cpu_decision d = decide_cpu_fault(word(page_state::unpopulated), a);
    EXPECT_EQ(d.action, cpu_action::first_touch);
    EXPECT_EQ(d.target, page_state::host_exclusive);
  }
}

TEST(Transition, ReadMostlyReadDuplicatesAndWriteTakesOwnership) {
  EXPECT_EQ(decide_cpu_fault(word(page_state::unpopulated, read_mostly_bit), access::read).target,
            page_state::shared);
  EXPECT_EQ(decide_cpu_fault(word(page_state::unpopulated, read_mostly_bit), access::write).target,
            page_state::host_exclusive);
}

// A cluster range's page: only its home may widen this process's access, so neither the first
// touch nor the upgrade is done inline; what the page's state allows still is.
TEST(Transition, AGatedPageWidensOnlyThroughTheServiceThread) {
  for (access a : {access::read, access::write}) {
    EXPECT_EQ(decide_cpu_fault(word(page_state::unpopulated, gated_bit), a).action,
              cpu_action::service);
  }
  EXPECT_EQ(decide_cpu_fault(word(page_state::shared, gated_bit), access::write).action,
            cpu_action::service);
  EXPECT_EQ(decide_cpu_fault(word(page_state::shared, gated_bit), access::read).action,
            cpu_action::retry);
  EXPECT_EQ(decide_cpu_fault(word(page_state::host_exclusive, gated_bit), access::write).action,
            cpu_action::retry);
  EXPECT_EQ(
      decide_cpu_fault(word(page_state::unpopulated, gated_bit | busy_bit), access::read).action,
      cpu_action::wait);
}

TEST(Transition, WriteToSharedUpgradesInline) {
  const cpu_decision d = decide_cpu_fault(word(page_state::shared), access::write);
  EXPECT_EQ(d.action, cpu_action::upgrade);
  EXPECT_EQ(d.target, page_state::host_exclusive);
}

TEST(Transition, AccessesTheStateAllowsAreRetried) {
  EXPECT_EQ(decide_cpu_fault(word(page_state::shared), access::read).action, cpu_action::retry);
  for (access a : {access::read, access::write}) {
    EXPECT_EQ(decide_cpu_fault(word(page_state::host_exclusive), a).action, cpu_action::retry);
    EXPECT_EQ(decide_cpu_fault(word(page_state::remote), a).action, cpu_action::retry);
  }
}

TEST(Transition, DeviceExclusiveNeedsTheServiceThread) {
  const cpu_decision r = decide_cpu_fault(word(page_state::device_exclusive), access::read);
  EXPECT_EQ(r.action, cpu_action::service);
  EXPECT_EQ(r.target, page_state::host_exclusive);
  EXPECT_EQ(
      decide_cpu_fault(word(page_state::device_exclusive, read_mostly_bit), access::read).target,
      page_state::shared);
}

TEST(Transition, BusyPagesAreWaitedOnWhateverTheirState) {
  for (page_state s : {page_state::unpopulated, page_state::host_exclusive, page_state::shared}) {
    EXPECT_EQ(decide_cpu_fault(word(s, busy_bit), access::read).action, cpu_action::wait);
    EXPECT_EQ(visible_state(word(s, busy_bit)), page_state::migrating);
  }
}

TEST(Transition, HostAccessPerState) {
  EXPECT_EQ(host_access_of(page_state::unpopulated), host_access::none);
  EXPECT_EQ(host_access_of(page_state::device_exclusive), host_access::none);
  EXPECT_EQ(host_access_of(page_state::migrating), host_access::none);
  EXPECT_EQ(host_access_of(page_state::shared), host_access::read);
  EXPECT_EQ(host_access_of(page_state::host_exclusive), host_access::read_write);
  EXPECT_EQ(host_access_of(page_state::remote), host_access::read_write);
  EXPECT_TRUE(allows(host_access::read, access::read));
  EXPECT_FALSE(allows(host_access::read, access::write));
  EXPECT_FALSE(allows(host_access::none, access::read));
}

}  // namespace
}  // namespace uvm::detail
