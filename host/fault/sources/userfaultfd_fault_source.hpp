#pragma once

// CPU faults through userfaultfd. Each app view is mapped read-write and registered in MISSING,
// MINOR and WP modes on its memfd: a page the CPU may not touch has no page-table entry in the
// app view (MADV_DONTNEED; its data stays in the memfd and the runtime view), a read-only page is
// write-protected, and resolving maps the page in place (UFFDIO_CONTINUE, or un-protect). No
// mapping is split, and accesses from the kernel (read(), write(), recv() into managed memory)
// fault and wait like the application's own.
//
// One instance per process, as with signals: a few handler threads read the descriptor and
// resolve each fault through the range's CPU fault logic, which hands faults that move data to
// the range's fault service. A fault that cannot be served is logged and ends in SIGBUS for the
// faulting thread.

#include "host/memory/view_protection.hpp"

#include <uvm/page_state.hpp>

#include <memory>

#include <sys/types.h>
#include <string>
#include <thread>
#include <vector>

namespace uvm::detail {

class managed_range;

class userfaultfd_fault_source final : public view_protection {
 public:
  /// Why this process cannot use the mechanism (permission, kernel features), or empty if it
  /// can. Probes with a descriptor of its own.
  [[nodiscard]] static std::string unavailable_reason();

  /// @return the process's instance, starting it if this is the first user (in a child of
  /// fork(), a new one: the parent's serves the parent's address space).
  /// @throws uvm::error saying what is missing if the mechanism is unavailable.
  static std::shared_ptr<userfaultfd_fault_source> acquire();

  ~userfaultfd_fault_source() override;
  userfaultfd_fault_source(const userfaultfd_fault_source&) = delete;
  userfaultfd_fault_source& operator=(const userfaultfd_fault_source&) = delete;

  /// Handler threads per process.
  static constexpr unsigned handler_threads = 4;

 private:
  userfaultfd_fault_source(int uffd, int stop_fd);
  void handle();
  [[nodiscard]] int write_protect(std::byte* p, std::size_t bytes, bool on) const noexcept;
  [[nodiscard]] int map_in(const view_span& v, bool read_only) const noexcept;
  [[nodiscard]] int continue_run(std::byte* p, std::size_t bytes, bool read_only,
                                 std::size_t& done) const noexcept;
  [[nodiscard]] int fill_hole(const view_span& v, std::size_t offset, std::size_t bytes,
                              bool read_only) const noexcept;
  void wake(const void* p, std::size_t bytes) const noexcept;
  [[nodiscard]] int fill_window_around(const managed_range& r, std::size_t page, const void* addr,
                                       page_state s) const noexcept;

  int do_protect(const view_span& v, host_access from, host_access to) noexcept override;
  bool do_splits_mappings() const noexcept override { return false; }
  bool do_handles_in_signal_handler() const noexcept override { return false; }
  void do_attach(std::byte* app, std::size_t bytes) override;
  std::string_view do_name() const noexcept override { return "userfaultfd"; }

  int uffd_;
  int stop_fd_;  // an eventfd the destructor signals
  pid_t owner_;  // a child of fork() has neither the descriptor's address space nor the threads
  std::vector<std::thread> handlers_;
};

}  // namespace uvm::detail
