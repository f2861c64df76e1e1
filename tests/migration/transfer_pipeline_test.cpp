// The transfer pipeline (host/migration/transfer_pipeline.hpp): a chunk's copies coalesce and
// land before its pages are published; a chunk left behind by a failure undoes every move; a
// chunk whose copies outlive the timeout keeps its pages busy until poll() finds them landed.
#include "host/migration/transfer_pipeline.hpp"

#include "tests/backend/failing_backend.hpp"
#include "tests/migration/device_rig.hpp"

#include <uvm/error.hpp>

#include <gtest/gtest.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <optional>
#include <utility>
#include <vector>

namespace uvm::detail {
namespace {

using namespace std::chrono_literals;
using testing::failing_backend;

// What the pipeline told: the pages that landed, in the order told, the frames given back, and
// the other devices' entries dropped for good.
class recording_settler final : public transfer_pipeline::settler {
 public:
  std::vector<std::size_t> landed;
  std::vector<std::uint32_t> untaken;
  std::vector<transfer_pipeline::drop> dropped;

 private:
  void do_landed(std::span<const transfer_pipeline::move> moves) override {
    for (const auto& m : moves) landed.push_back(m.page);
  }
  void do_dropped(std::span<const transfer_pipeline::drop> drops) noexcept override {
    dropped.insert(dropped.end(), drops.begin(), drops.end());
  }
  void do_untaken(device_id, std::uint32_t f) noexcept override { untaken.push_back(f); }
};

// A range in a table of its own, device frames for it, and a pipeline over both.
struct pipeline_rig {
  explicit pipeline_rig(std::chrono::nanoseconds timeout = 10s)
      : rig(1),
        failing(rig.dev),
        table(failing, 4096),
        range(rig.ctx, 8 * page_bytes, page_bytes),
        frames(static_cast<std::byte*>(failing.allocate_device(8 * page_bytes))),
        pipe(failing, stats, table, settler, {page_bytes, timeout, nullptr}) {
    const stream s = failing.create_stream("tables");
    id = *table.add(range, /*quiet=*/true, {&s, 1}, 2s);
    device_range d;
    d.range_id = id;
    range.attach_device(d);
    for (std::size_t i = 0; i < source.size(); ++i) source[i] = std::byte(i * 7 + 1);
  }
  ~pipeline_rig() {
    table.remove(range, /*quiet=*/true);
    failing.free_device(frames);
  }

  // Claims page `p` and plans its first touch on the device, into frame `f`, with its data
  // from `source`.
  void plan_to_device(transfer_pipeline::chunk& c, std::size_t p, std::uint32_t f) {
    page_word w = range.pages().load(p);
    ASSERT_TRUE(range.pages().try_claim(p, w));
    transfer_pipeline::move m{&range, p, stored_state(w), page_state::device_exclusive};
    m.pte = make_pte(f, pte_valid | pte_writable);
    m.old_pte = table.table(id).get(p);
    m.taken = f;
    m.src = source.data();
    m.dst = frames + std::size_t{f} * page_bytes;
    c.reserve_one();
    c.moves.push_back(m);
  }
  [[nodiscard]] bool busy(std::size_t p) { return (range.pages().load(p) & busy_bit) != 0; }
  [[nodiscard]] bool frame_holds_source(std::uint32_t f) const {
    return std::memcmp(frames + std::size_t{f} * page_bytes, source.data(), page_bytes) == 0;
  }

  device_rig rig;
  failing_backend failing;
  counters stats;
  range_table table;
  managed_range range;
  std::byte* frames;
  recording_settler settler;
  transfer_pipeline pipe;
  std::uint32_t id = 0;
  std::vector<std::byte> source = std::vector<std::byte>(page_bytes);
};

TEST(TransferPipeline, ALandedChunkCopiesOnceForNeighboursThenSettlesAndPublishes) {
  pipeline_rig t;
  transfer_pipeline::chunk c(&t.pipe);
  // Pages 2 and 3 into frames 5 and 6 (neighbours: one copy); page 0 into frame 1 (its own).
  t.plan_to_device(c, 3, 6);
  t.plan_to_device(c, 0, 1);
  t.plan_to_device(c, 2, 5);
  t.failing.fail(failing_backend::op::copy, 0);  // counts the copies from here
  t.pipe.enqueue(c, copy_kind::host_to_device);
  EXPECT_EQ(t.failing.calls(failing_backend::op::copy), 3u)
      << "each move has its own source: no two copies can share one";
  ASSERT_EQ(t.pipe.complete(c), 0);
  EXPECT_EQ(t.settler.landed, (std::vector<std::size_t>{0, 2, 3})) << "settled in page order";
  EXPECT_TRUE(t.settler.untaken.empty());
  for (const std::size_t p : {0u, 2u, 3u}) {
    EXPECT_FALSE(t.busy(p));
    EXPECT_EQ(t.range.state_of(p), page_state::device_exclusive);
    EXPECT_NE(t.range.pages().load(p) & device_mapped_bit, 0u);
    EXPECT_EQ(pte_frame(t.table.table(t.id).get(p)), p == 0 ? 1u : p + 3);
  }
  for (const std::uint32_t f : {1u, 5u, 6u}) EXPECT_TRUE(t.frame_holds_source(f)) << f;
  EXPECT_EQ(t.stats.bytes_host_to_device.load(), 3 * page_bytes);
  EXPECT_TRUE(c.moves.empty());
}

TEST(TransferPipeline, NeighbouringPagesFromNeighbouringSourcesMoveInOneCopy) {
  pipeline_rig t;
  std::vector<std::byte> both(2 * page_bytes, std::byte{9});
  transfer_pipeline::chunk c(&t.pipe);
  t.plan_to_device(c, 4, 2);
  t.plan_to_device(c, 5, 3);
  c.moves[0].src = both.data();
  c.moves[1].src = both.data() + page_bytes;
  t.failing.fail(failing_backend::op::copy, 0);
  t.pipe.enqueue(c, copy_kind::host_to_device);
  EXPECT_EQ(t.failing.calls(failing_backend::op::copy), 1u);
  ASSERT_EQ(t.pipe.complete(c), 0);
  EXPECT_EQ(std::memcmp(t.frames + 2 * page_bytes, both.data(), 2 * page_bytes), 0);
}

TEST(TransferPipeline, AChunkDroppedBeforeItsCopiesUndoesItsMovesAndReturnsItsFrames) {
  pipeline_rig t;
  {
    transfer_pipeline::chunk c(&t.pipe);
    t.plan_to_device(c, 1, 3);
    t.plan_to_device(c, 2, 4);
  }
  EXPECT_EQ(t.settler.untaken, (std::vector<std::uint32_t>{3, 4}));
  EXPECT_TRUE(t.settler.landed.empty());
  for (const std::size_t p : {1u, 2u}) {
    EXPECT_FALSE(t.busy(p)) << "page " << p << " was left busy";
    EXPECT_EQ(t.range.state_of(p), page_state::unpopulated);
  }
}

TEST(TransferPipeline, AChunkWhoseEntriesFailToEnqueueIsUndoneWithItsOldEntries) {
  pipeline_rig t;
  t.failing.fail(failing_backend::op::entries, 1);
  {
    transfer_pipeline::chunk c(&t.pipe);
    t.plan_to_device(c, 6, 0);
    EXPECT_THROW(t.pipe.enqueue(c, copy_kind::host_to_device), uvm::error);
  }
  EXPECT_EQ(t.failing.injected(), 1u);
  EXPECT_EQ(t.settler.untaken, (std::vector<std::uint32_t>{0}));
  EXPECT_TRUE(t.settler.landed.empty());
  EXPECT_FALSE(t.busy(6));
  EXPECT_EQ(t.range.state_of(6), page_state::unpopulated);
  EXPECT_EQ(t.table.table(t.id).get(6), 0u) << "the planned entry outlived the undo";
  EXPECT_EQ(t.range.pages().load(6) & device_mapped_bit, 0u);
}

TEST(TransferPipeline, CopiesThatOutliveTheTimeoutKeepThePagesBusyUntilPollFindsThemLanded) {
  pipeline_rig t(50ms);
  const gate held = t.failing.enqueue_gate(t.pipe.h2d());
  ASSERT_NE(held, nullptr) << "the emulated device holds streams behind gates";
  transfer_pipeline::chunk c(&t.pipe);
  t.plan_to_device(c, 7, 2);
  t.pipe.enqueue(c, copy_kind::host_to_device);
  EXPECT_EQ(t.pipe.complete(c), ETIMEDOUT);
  EXPECT_TRUE(t.busy(7)) << "published before its data landed";
  t.pipe.poll();
  EXPECT_TRUE(t.busy(7)) << "poll finished a chunk whose copies had not landed";
  EXPECT_TRUE(t.settler.landed.empty());
  t.failing.open_gate(held);
  ASSERT_TRUE(t.failing.wait(t.failing.record(t.pipe.h2d()), 10s));
  t.pipe.poll();
  EXPECT_FALSE(t.busy(7));
  EXPECT_EQ(t.range.state_of(7), page_state::device_exclusive);
  EXPECT_EQ(t.settler.landed, (std::vector<std::size_t>{7}));
  EXPECT_TRUE(t.frame_holds_source(2));
}

TEST(TransferPipeline, RunPlansInChunksOfTheChunkSize) {
  pipeline_rig t;
  const std::size_t per_chunk = transfer_pipeline::chunk_bytes / page_bytes;
  std::vector<std::pair<std::size_t, std::size_t>> before;
  std::size_t planned = 0;
  const std::size_t moved = t.pipe.run(
      2 * per_chunk + 3, copy_kind::host_to_device, 0,
      [&](std::size_t i, std::size_t end) { before.emplace_back(i, end); },
      [&](std::size_t i, transfer_pipeline::chunk& c) {
        EXPECT_EQ(i, planned++);
        if (i != per_chunk + 1) return false;
        t.plan_to_device(c, 1, 0);
        return true;
      });
  EXPECT_EQ(moved, 1u);
  EXPECT_EQ(before,
            (std::vector<std::pair<std::size_t, std::size_t>>{
                {0, per_chunk}, {per_chunk, 2 * per_chunk}, {2 * per_chunk, 2 * per_chunk + 3}}));
  EXPECT_EQ(t.settler.landed, (std::vector<std::size_t>{1}));
  EXPECT_EQ(t.range.state_of(1), page_state::device_exclusive);
}

}  // namespace
}  // namespace uvm::detail
