#include "host/policy/thrashing_detector.hpp"

#include <uvm/error.hpp>

#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

namespace uvm::detail {
namespace {

using verdict = thrashing_detector::verdict;
using verdicts = std::vector<verdict>;
constexpr std::uint64_t us = 1000;
constexpr std::uint64_t ms = 1000 * us;
constexpr page_ref a{0, 7};
constexpr page_ref b{1, 7};  // same page number, another range

/// The verdicts for migrations of `p` at `times`.
verdicts run(thrashing_detector& d, page_ref p, const std::vector<std::uint64_t>& times) {
  verdicts out;
  for (std::uint64_t t : times) out.push_back(d.on_migration(p, t));
  return out;
}

TEST(ThrashingDetector, Defaults) {
  thrashing_detector d;
  EXPECT_EQ(d.settings().migrations, 3u);
  EXPECT_EQ(d.settings().lapse_ns, 500 * us);
  EXPECT_EQ(d.settings().throttles_before_pin, 2u);
  EXPECT_EQ(d.settings().quiet_ns, 10 * ms);
  EXPECT_EQ(d.tracked(), 0u);
  EXPECT_FALSE(d.thrashing(a, 0));
}

TEST(ThrashingDetector, ThreeMigrationsWithinTheLapseThrottle) {
  thrashing_detector d;
  // The third at exactly 500 us after the first is still within.
  EXPECT_EQ(run(d, a, {0, 100 * us, 500 * us}),
            (verdicts{verdict::normal, verdict::normal, verdict::throttle}));
  EXPECT_TRUE(d.thrashing(a, 500 * us));
  EXPECT_FALSE(d.thrashing(b, 500 * us));
  EXPECT_EQ(d.throttles(), 1u);
  EXPECT_EQ(d.pins(), 0u);
  EXPECT_EQ(d.tracked(), 1u);
}

TEST(ThrashingDetector, TheWindowSlides) {
  thrashing_detector d;
  // 0, 100 us, 500 us + 1 ns: the first is out of the window (2 in it). 550 us: 100 us,
  // 500.001 us and 550 us span 450 us: throttle.
  EXPECT_EQ(run(d, a, {0, 100 * us, 500 * us + 1, 550 * us}),
            (verdicts{verdict::normal, verdict::normal, verdict::normal, verdict::throttle}));
  EXPECT_EQ(d.throttles(), 1u);
}

TEST(ThrashingDetector, SpreadOutMigrationsAreNormal) {
  thrashing_detector d;
  // Every 300 us: any three span 600 us > 500 us.
  std::vector<std::uint64_t> times;
  for (std::uint64_t i = 0; i < 20; ++i) times.push_back(i * 300 * us);
  EXPECT_EQ(run(d, a, times), verdicts(20, verdict::normal));
  EXPECT_FALSE(d.thrashing(a, times.back()));
  EXPECT_EQ(d.throttles(), 0u);
  EXPECT_EQ(d.pins(), 0u);
}

TEST(ThrashingDetector, RepeatedThrottlesPin) {
  thrashing_detector d;
  // Every 10 us: each detection starts a fresh count of 3. Detections 1 and 2 throttle, the
  // third (after 2 throttles) and every later one pin.
  std::vector<std::uint64_t> times;
  for (std::uint64_t i = 0; i < 12; ++i) times.push_back(i * 10 * us);
  EXPECT_EQ(run(d, a, times), (verdicts{verdict::normal, verdict::normal, verdict::throttle,    //
                                        verdict::normal, verdict::normal, verdict::throttle,    //
                                        verdict::normal, verdict::normal, verdict::pin_remote,  //
                                        verdict::normal, verdict::normal, verdict::pin_remote}));
  EXPECT_EQ(d.throttles(), 2u);
  EXPECT_EQ(d.pins(), 2u);
  EXPECT_TRUE(d.thrashing(a, 110 * us));
}

TEST(ThrashingDetector, ThrottlesAccumulateUntilAQuietPeriod) {
  thrashing_detector d;
  EXPECT_EQ(run(d, a, {0, 10 * us, 20 * us}).back(), verdict::throttle);
  // 5 ms later (not quiet): a second burst is the second throttle, a third burst 9 ms after
  // that pins.
  EXPECT_EQ(run(d, a, {5 * ms, 5 * ms + 10 * us, 5 * ms + 20 * us}).back(), verdict::throttle);
  EXPECT_EQ(run(d, a, {14 * ms, 14 * ms + 10 * us, 14 * ms + 20 * us}).back(), verdict::pin_remote);
  EXPECT_EQ(d.throttles(), 2u);
  EXPECT_EQ(d.pins(), 1u);
}

TEST(ThrashingDetector, QuietPeriodResetsThePage) {
  thrashing_detector d;
  EXPECT_EQ(run(d, a, {0, 10 * us, 20 * us}).back(), verdict::throttle);
  EXPECT_EQ(run(d, a, {40 * us, 50 * us, 60 * us}).back(), verdict::throttle);
  // Last migration at 60 us: thrashing until 10 ms after it.
  EXPECT_TRUE(d.thrashing(a, 60 * us + 10 * ms - 1));
  EXPECT_FALSE(d.thrashing(a, 60 * us + 10 * ms));
  // After the quiet period the page starts over: the next burst throttles, not pins, even
  // without decay() having run.
  const std::uint64_t t = 60 * us + 10 * ms;
  EXPECT_EQ(run(d, a, {t, t + 10 * us, t + 20 * us}),
            (verdicts{verdict::normal, verdict::normal, verdict::throttle}));
  EXPECT_EQ(d.throttles(), 3u);
  EXPECT_EQ(d.pins(), 0u);
}

TEST(ThrashingDetector, QuietPeriodForgetsPartialHistory) {
  thrashing_detector d(
      {.migrations = 3, .lapse_ns = 20 * ms, .throttles_before_pin = 2, .quiet_ns = 10 * ms});
  // 0 and 10 ms - 1 ns: within the (long) lapse. The third at 20 ms - 1 ns would make three
  // within 20 ms, but the page was quiet for 10 ms before it: history forgotten.
  EXPECT_EQ(run(d, a, {0, 10 * ms - 1, 20 * ms - 1}),
            (verdicts{verdict::normal, verdict::normal, verdict::normal}));
  EXPECT_EQ(run(d, a, {20 * ms}), verdicts{verdict::normal});
  EXPECT_EQ(run(d, a, {20 * ms + 1}), verdicts{verdict::throttle});
}

TEST(ThrashingDetector, DecayForgetsOnlyQuietPages) {
  thrashing_detector d;
  (void)run(d, a, {0, 10 * us, 20 * us});  // last at 20 us, thrashing
  (void)run(d, b, {5 * ms});
  EXPECT_EQ(d.tracked(), 2u);
  d.decay(10 * ms + 20 * us - 1);  // nobody quiet yet
  EXPECT_EQ(d.tracked(), 2u);
  EXPECT_TRUE(d.thrashing(a, 10 * ms + 20 * us - 1));
  d.decay(10 * ms + 20 * us);  // a quiet, b not
  EXPECT_EQ(d.tracked(), 1u);
  EXPECT_FALSE(d.thrashing(a, 10 * ms + 20 * us));
  d.decay(15 * ms);
  EXPECT_EQ(d.tracked(), 0u);
  // Counters are totals: decay does not take verdicts back.
  EXPECT_EQ(d.throttles(), 1u);
}

TEST(ThrashingDetector, DecayDoesNotChangeVerdicts) {
  thrashing_detector with_decay;
  thrashing_detector without;
  const std::vector<std::uint64_t> times = {0,           10 * us,    20 * us,     3 * ms,
                                            3 * ms + 1,  3 * ms + 2, 13 * ms + 2, 13 * ms + 3,
                                            13 * ms + 4, 14 * ms};
  verdicts got_with, got_without;
  for (std::uint64_t t : times) {
    with_decay.decay(t);
    got_with.push_back(with_decay.on_migration(a, t));
    got_without.push_back(without.on_migration(a, t));
  }
  EXPECT_EQ(got_with, got_without);
  EXPECT_EQ(got_with,
            (verdicts{verdict::normal, verdict::normal, verdict::throttle, verdict::normal,
                      verdict::normal, verdict::throttle, verdict::normal, verdict::normal,
                      verdict::throttle, verdict::normal}));
}

TEST(ThrashingDetector, PagesAreIndependent) {
  thrashing_detector d;
  // Interleaved: each page migrates twice, nobody three times.
  EXPECT_EQ(d.on_migration(a, 0), verdict::normal);
  EXPECT_EQ(d.on_migration(b, 1), verdict::normal);
  EXPECT_EQ(d.on_migration(a, 2), verdict::normal);
  EXPECT_EQ(d.on_migration(b, 3), verdict::normal);
  EXPECT_EQ(d.on_migration(b, 4), verdict::throttle);
  EXPECT_FALSE(d.thrashing(a, 4));
  EXPECT_TRUE(d.thrashing(b, 4));
  EXPECT_EQ(d.tracked(), 2u);
}

TEST(ThrashingDetector, OtherSettings) {
  // One migration is enough; pin at once.
  thrashing_detector eager(
      {.migrations = 1, .lapse_ns = 0, .throttles_before_pin = 0, .quiet_ns = 1});
  EXPECT_EQ(eager.on_migration(a, 100), verdict::pin_remote);
  EXPECT_TRUE(eager.thrashing(a, 100));  // pinned counts as thrashing
  EXPECT_FALSE(eager.thrashing(a, 101));
  EXPECT_EQ(eager.pins(), 1u);
  EXPECT_EQ(eager.throttles(), 0u);
  EXPECT_THROW((void)thrashing_detector({.migrations = 0}), invalid_argument);
  EXPECT_THROW((void)thrashing_detector(
                   {.migrations = 3, .lapse_ns = 1, .throttles_before_pin = 1, .quiet_ns = 0}),
               invalid_argument);
}

TEST(ThrashingDetector, TimestampsGoingBackwardsCountAsNoTime) {
  thrashing_detector d;
  EXPECT_EQ(run(d, a, {1 * ms, 400 * us, 2 * ms}),
            (verdicts{verdict::normal, verdict::normal, verdict::normal}));
  // Above: 400 us is "at 1 ms"; at 2 ms both are more than 500 us old. Now three at ~3 ms.
  EXPECT_EQ(run(d, a, {3 * ms, 3 * ms - 5, 3 * ms + 1}),
            (verdicts{verdict::normal, verdict::normal, verdict::throttle}));
}

}  // namespace
}  // namespace uvm::detail
