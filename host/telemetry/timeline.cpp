#include "host/telemetry/timeline.hpp"

#include "host/common/check.hpp"
#include "host/common/clock.hpp"
#include "host/telemetry/log.hpp"

#include <fmt/format.h>

#include <array>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>

#include <fcntl.h>
#include <unistd.h>

namespace uvm::detail {

namespace {

// Track keys: the class in the top byte, an identity below.
constexpr std::uint64_t thread_track = 0;
constexpr std::uint64_t copy_track = std::uint64_t{1} << 56;
constexpr std::uint64_t stream_track = std::uint64_t{2} << 56;
constexpr std::uint64_t events_track = std::uint64_t{3} << 56;
constexpr std::uint64_t stages_track = std::uint64_t{4} << 56;
constexpr std::uint64_t modelled_track = std::uint64_t{5} << 56;
// Synthetic tids (tracks that are no thread, and further lanes) lie above any pid_max.
constexpr std::uint32_t first_synthetic_tid = 1u << 24;

constexpr std::array<std::string_view, 7> fault_kind_names = {
    "first-touch", "upgrade", "waited", "serviced", "spurious", "timed out", "failed"};
constexpr std::array<std::string_view, 8> cause_names = {
    "cpu fault", "device fault",     "prefetch",  "eviction",
    "discard",   "launch residency", "promotion", "pin"};
constexpr std::array<std::string_view, 8> migration_names = {"migrate (cpu fault)",
                                                             "migrate (device fault)",
                                                             "prefetch",
                                                             "evict",
                                                             "discard",
                                                             "make resident",
                                                             "promote",
                                                             "pin"};

template <std::size_t N>
std::string_view name_in(const std::array<std::string_view, N>& names, std::uint8_t i) {
  return i < N ? names[i] : std::string_view("unknown");
}

void append_escaped(std::string& out, std::string_view s) {
  for (const char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      out += fmt::format("\\u{:04x}", static_cast<unsigned>(c));
    } else {
      out += c;
    }
  }
}

std::string thread_name(std::uint32_t tid) {
  std::ifstream comm(fmt::format("/proc/self/task/{}/comm", tid));
  std::string name;
  if (comm && std::getline(comm, name) && !name.empty()) return fmt::format("{} {}", name, tid);
  return fmt::format("thread {}", tid);
}

std::string size_label(std::uint64_t bytes) {
  if (bytes >= (std::uint64_t{1} << 30) && bytes % (std::uint64_t{1} << 30) == 0) {
    return fmt::format("{} GiB", bytes >> 30);
  }
  if (bytes >= (std::uint64_t{1} << 20)) return fmt::format("{:.1f} MiB", bytes / 1048576.0);
  if (bytes >= 1024) return fmt::format("{:.1f} KiB", bytes / 1024.0);
  return fmt::format("{} B", bytes);
}

// The path the n-th timeline asked for `path` in this process writes: `path` itself for the
// first, then `<stem>.<n><ext>`.
std::string claim_path(const std::string& path) {
  static std::mutex mutex;
  static std::map<std::string, unsigned> claimed;
  unsigned n = 0;
  {
    const std::lock_guard lock(mutex);
    n = ++claimed[path];
  }
  if (n == 1) return path;
  const std::size_t slash = path.find_last_of('/');
  const std::size_t dot = path.find_last_of('.');
  const bool has_ext = dot != std::string::npos && (slash == std::string::npos || dot > slash + 1);
  const std::string numbered =
      has_ext ? fmt::format("{}.{}{}", path.substr(0, dot), n, path.substr(dot))
              : fmt::format("{}.{}", path, n);
  log().info("timeline: '{}' is this process's timeline number {} for '{}'", numbered, n, path);
  return numbered;
}

}  // namespace

timeline::timeline(const std::string& path)
    : path_(claim_path(path)),
      fd_(::open(path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644)),
      owner_(getpid()),
      origin_ns_(now_ns()),
      next_synthetic_tid_(first_synthetic_tid) {
  if (fd_ < 0) throw_system(fmt::format("creating the timeline file '{}'", path_), errno);
  buffer_ = "{\"displayTimeUnit\":\"ns\",\"traceEvents\":[\n";
  std::string process = "uvm";
  if (std::ifstream comm("/proc/self/comm"); comm) std::getline(comm, process);
  append_metadata_event("process_name", 0, "name", fmt::format("{} (uvm)", process));
}

timeline::~timeline() {
  finish();
}

void timeline::name_stream(const stream_base* s, std::string_view name) {
  const std::lock_guard lock(mutex_);
  stream_of(reinterpret_cast<std::uint64_t>(s)).second = std::string(name);
}

std::pair<std::uint32_t, std::string>& timeline::stream_of(std::uint64_t identity) {
  auto [it, added] = streams_.try_emplace(identity);
  if (added) {
    it->second.first = static_cast<std::uint32_t>(streams_.size());
    it->second.second = fmt::format("{}", it->second.first);
  }
  return it->second;
}

std::uint32_t timeline::thread_lane(std::uint32_t tid, std::uint64_t start, std::uint64_t end) {
  const std::uint64_t key = thread_track | tid;
  // The name is read from /proc once, when the thread's track is new.
  return lane_for(key, tracks_.contains(key) ? std::string() : thread_name(tid), tid, start, end);
}

void timeline::append_metadata_event(std::string_view what, std::uint32_t tid, std::string_view arg,
                                     std::string_view value) {
  begin_event();
  buffer_ += fmt::format(R"({{"name":"{}","ph":"M","pid":{},"tid":{},"args":{{"{}":)", what, owner_,
                         tid, arg);
  if (!value.empty() && value.front() == '#') {  // a number
    buffer_ += value.substr(1);
  } else {
    buffer_ += '"';
    append_escaped(buffer_, value);
    buffer_ += '"';
  }
  buffer_ += "}}";
}

void timeline::begin_event() {
  if (written_++ != 0) buffer_ += ",\n";
}

std::uint32_t timeline::lane_for(std::uint64_t key, std::string_view name, std::uint32_t tid,
                                 std::uint64_t start, std::uint64_t end) {
  auto [it, added] = tracks_.try_emplace(key);
  track& t = it->second;
  if (added) t.name = std::string(name);
  for (lane& l : t.lanes) {
    if (l.last_end_ns <= start) {
      l.last_end_ns = end;
      return l.tid;
    }
  }
  const bool first = t.lanes.empty();
  const std::uint32_t lane_tid = first && tid != 0 ? tid : next_synthetic_tid_++;
  t.lanes.push_back({lane_tid, end});
  const std::string lane_name = first ? t.name : fmt::format("{} ({})", t.name, t.lanes.size());
  append_metadata_event("thread_name", lane_tid, "name", lane_name);
  // Order: threads as they come, then the copy tracks, the streams, and the instants.
  const std::uint64_t cls = key >> 56;
  if (cls != 0) {
    const std::uint64_t index = cls * 1000 + (key & 0xffff) * 10 + t.lanes.size();
    append_metadata_event("thread_sort_index", lane_tid, "sort_index", fmt::format("#{}", index));
  }
  return lane_tid;
}

std::string timeline::range_label(std::uint32_t id) const {
  const auto it = ranges_.find(id);
  if (it == ranges_.end()) return fmt::format("range {}", id);
  return fmt::format("range {} ({})", id, size_label(it->second));
}

void timeline::write_event(const timeline_event& e) {
  const std::uint64_t start = std::max(e.start_ns, origin_ns_);
  const std::uint64_t end = std::max(e.end_ns, start);
  std::string name;
  std::string args;
  std::uint32_t tid = 0;
  bool instant = false;
  switch (e.kind) {
    case timeline_kind::cpu_fault: {
      const std::string_view kind = name_in(fault_kind_names, e.detail);
      name = fmt::format("cpu fault: {}", kind);
      args = fmt::format(R"("kind":"{}","access":"{}","range":"{}","page":{})", kind,
                         e.flags != 0 ? "write" : "read", range_label(e.range_id), e.page);
      if (e.value != 0 || e.key != 0) {  // a serviced fault's stages
        args += fmt::format(R"(,"queued_us":{:.3f},"waited_us":{:.3f},"resolved_us":{:.3f},)"
                            R"("woken_us":{:.3f})",
                            stage_first(e.value) / 1000.0, stage_second(e.value) / 1000.0,
                            stage_first(e.key) / 1000.0, stage_second(e.key) / 1000.0);
      }
      tid = thread_lane(e.tid, start, end);
      break;
    }
    case timeline_kind::cpu_fault_batch:
      name = "cpu fault batch";
      args = fmt::format(R"("requests":{})", e.count);
      tid = thread_lane(e.tid, start, end);
      break;
    case timeline_kind::device_fault_batch:
      name = "device fault batch";
      args = fmt::format(R"("pages":{},"records":{})", e.count, e.value);
      tid = thread_lane(e.tid, start, end);
      break;
    case timeline_kind::migration: {
      const bool to_device = (e.flags & to_device_flag) != 0;
      name = std::string(name_in(migration_names, e.detail));
      args = fmt::format(
          R"("cause":"{}","direction":"{}","pages":{},"bytes":{},"range":"{}","first_page":{})",
          name_in(cause_names, e.detail), to_device ? "to device" : "to host", e.count, e.value,
          (e.flags & many_ranges_flag) != 0 ? std::string("several") : range_label(e.range_id),
          e.page);
      if (devices_ > 1) {
        args += fmt::format(R"(,"device":{},"bytes_from_devices":{})", e.device, e.key);
      }
      // One track per direction, and per device where there are several.
      std::string track = to_device ? "copies to device" : "copies to host";
      if (devices_ > 1) {
        track = to_device ? fmt::format("copies to device {}", e.device)
                          : fmt::format("copies from device {} to host", e.device);
      }
      tid = lane_for(copy_track | (std::uint64_t{e.device} << 1) | (to_device ? 0 : 1), track, 0,
                     start, end);
      break;
    }
    case timeline_kind::kernel_epoch: {
      const auto& [index, stream] = stream_of(e.key);
      name = "kernels";
      args = fmt::format(R"("stream":"{}")", stream);
      tid = lane_for(stream_track | index, fmt::format("stream {}", stream), 0, start, end);
      break;
    }
    case timeline_kind::range_created: ranges_[e.range_id] = e.value; [[fallthrough]];
    case timeline_kind::range_freed:
      instant = true;
      name = e.kind == timeline_kind::range_created ? "range created" : "range freed";
      args = fmt::format(R"("range":"{}","bytes":{})", range_label(e.range_id),
                         ranges_.contains(e.range_id) ? ranges_[e.range_id] : 0);
      break;
    case timeline_kind::thrashing:
      instant = true;
      name = e.detail == 0 ? "thrashing: throttled" : "thrashing: pinned";
      args = fmt::format(R"("range":"{}","page":{})", range_label(e.range_id), e.page);
      break;
    case timeline_kind::pin:
    case timeline_kind::unpin:
      instant = true;
      name = e.kind == timeline_kind::unpin ? "unpin"
             : e.flags != 0                 ? "pin to device"
                                            : "pin to host";
      args = fmt::format(R"("range":"{}","first_page":{},"pages":{})", range_label(e.range_id),
                         e.page, e.count);
      break;
    case timeline_kind::remote_mapping:
      instant = true;
      name = e.flags != 0 ? "peer mapping" : "remote mapping";
      args = fmt::format(R"("range":"{}","page":{})", range_label(e.range_id), e.page);
      if (devices_ > 1) args += fmt::format(R"(,"device":{})", e.device);
      break;
    case timeline_kind::modelled_kernel: {
      const auto& [index, stream] = stream_of(e.key);
      name = "kernel (modelled)";
      args = fmt::format(R"("stream":"{}","faults":{},"fault_us":{:.3f})", stream, e.count,
                         e.value / 1000.0);
      tid =
          lane_for(modelled_track | index,
                   fmt::format("modelled {}: stream {}", modelled_profile_, stream), 0, start, end);
      break;
    }
    case timeline_kind::modelled_copy: {
      const bool in = (e.flags & to_device_flag) != 0;
      name = in ? "copy to device (modelled)" : "copy to host (modelled)";
      args = fmt::format(R"("bytes":{})", e.value);
      tid = lane_for(
          modelled_track | (std::uint64_t{1} << 40) | (std::uint64_t{e.device} << 1) | (in ? 0 : 1),
          fmt::format("modelled {}: device {} copies {}", modelled_profile_, e.device,
                      in ? "in" : "out"),
          0, start, end);
      break;
    }
    case timeline_kind::device_fault_stages: {
      // One slice per stage, back to back on a track of their own.
      const std::array<std::pair<std::string_view, std::uint64_t>, 4> stages = {
          {{"planned", stage_first(e.value)},
           {"issued", stage_second(e.value)},
           {"landed", stage_first(e.key)},
           {"published", stage_second(e.key)}}};
      std::uint64_t at = start;
      for (const auto& [stage, ns] : stages) {
        const std::uint64_t to = std::min(at + ns, end);
        append_event(fmt::format("device fault: {}", stage), fmt::format(R"("pages":{})", e.count),
                     lane_for(stages_track, "device fault stages", 0, at, to), at, to, false);
        at = to;
      }
      return;
    }
  }
  if (instant) tid = lane_for(events_track, "events", 0, start, start);
  append_event(name, args, tid, start, end, instant);
}

void timeline::append_event(std::string_view name, std::string_view args, std::uint32_t tid,
                            std::uint64_t start, std::uint64_t end, bool instant) {
  begin_event();
  buffer_ += "{\"name\":\"";
  append_escaped(buffer_, name);
  buffer_ += fmt::format(R"(","ts":{:.3f},"pid":{},"tid":{},)", (start - origin_ns_) / 1000.0,
                         owner_, tid);
  if (instant) {
    buffer_ += R"("ph":"i","s":"t",)";
  } else {
    buffer_ += fmt::format(R"("ph":"X","dur":{:.3f},)", (end - start) / 1000.0);
  }
  buffer_ += "\"args\":{";
  buffer_ += args;
  buffer_ += "}}";
  if (buffer_.size() >= (std::size_t{64} << 10)) flush_buffer();
}

void timeline::flush_buffer() noexcept {
  std::size_t off = 0;
  while (off < buffer_.size() && !io_failed_) {
    const ssize_t n = ::write(fd_, buffer_.data() + off, buffer_.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      io_failed_ = true;
      log().error("timeline {}: write failed ({}); the rest of the timeline is lost", path_,
                  std::strerror(errno));
      break;
    }
    off += static_cast<std::size_t>(n);
  }
  buffer_.clear();
}

void timeline::drain() noexcept {
  const std::lock_guard lock(mutex_);
  if (!open_ || getpid() != owner_) return;
  timeline_event e{};
  try {
    while (ring_.try_pop(e)) {
      pending_.fetch_sub(1, std::memory_order_relaxed);
      write_event(e);
    }
  } catch (const std::exception& x) {  // out of memory formatting: the event is lost, counted
    dropped_.fetch_add(1, std::memory_order_relaxed);
    log().error("timeline {}: {}", path_, x.what());
  }
  flush_buffer();
}

void timeline::finish() noexcept {
  drain();
  const std::lock_guard lock(mutex_);
  if (!open_ || getpid() != owner_) return;
  open_ = false;
  try {
    buffer_ += fmt::format(
        "\n],\"metadata\":{{\"writer\":\"uvm\",\"clock\":\"CLOCK_MONOTONIC\",\"origin_ns\":{},"
        "\"events\":{},\"dropped_events\":{},\"ranges\":[",
        origin_ns_, written_, dropped());
    bool first = true;
    for (const auto& [id, bytes] : ranges_) {
      buffer_ += fmt::format(R"({}{{"id":{},"bytes":{}}})", first ? "" : ",", id, bytes);
      first = false;
    }
    buffer_ += "]}}\n";
  } catch (const std::exception&) {
    buffer_ = "\n]}\n";
  }
  flush_buffer();
  if (dropped() != 0) {
    log().warn("timeline {}: {} events were dropped (the ring was full)", path_, dropped());
  }
  ::close(fd_);
}

}  // namespace uvm::detail
