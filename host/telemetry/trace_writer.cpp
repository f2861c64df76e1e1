#include "host/telemetry/trace_writer.hpp"

#include "host/common/check.hpp"
#include "host/telemetry/log.hpp"

namespace uvm::detail {

trace_writer::trace_writer(const std::string& path, std::uint64_t page_size)
    : path_(path), file_(std::fopen(path.c_str(), "wb")) {
  if (file_ == nullptr) throw_system(fmt::format("creating the trace file '{}'", path), errno);
  const trace_header h = make_trace_header(page_size);
  std::fwrite(&h, sizeof h, 1, file_);
}

trace_writer::~trace_writer() {
  drain();
  if (dropped() != 0) {
    log().warn("trace {}: {} records were dropped (the ring was full)", path_, dropped());
  }
  std::fclose(file_);
}

void trace_writer::drain() noexcept {
  trace_record r{};
  while (ring_.try_pop(r)) std::fwrite(&r, sizeof r, 1, file_);
}

}  // namespace uvm::detail
