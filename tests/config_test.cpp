#include <uvm/uvm.hpp>

#include <gtest/gtest.h>

#include <cstdlib>
#include <string>
#include <vector>

namespace {

struct scoped_env {
  scoped_env(const char* name, const char* value) : name_(name) { setenv(name, value, 1); }
  ~scoped_env() { unsetenv(name_); }
  const char* name_;
};

TEST(Config, DefaultsValidate) {
  const uvm::config c;
  EXPECT_NO_THROW(c.validate());
  EXPECT_EQ(c.page_size, 64u << 10);
  EXPECT_EQ(c.backend, uvm::backend_kind::automatic);
  EXPECT_EQ(c.faults, uvm::fault_mechanism::automatic);
  EXPECT_EQ(c.eviction, uvm::eviction_kind::dueling);
  EXPECT_FALSE(c.promote_remote);
  EXPECT_FALSE(c.print_stats);
}

TEST(Config, EveryVariableOverridesItsField) {
  scoped_env a("UVM_PAGE_SIZE", "2M");
  scoped_env b("UVM_DEVICE_BUDGET", "3GiB");
  scoped_env c("UVM_BACKEND", "emulated");
  scoped_env d("UVM_FAULT_MECHANISM", "signal");
  scoped_env e("UVM_LOG_LEVEL", "debug");
  scoped_env f("UVM_FAULT_TIMEOUT_MS", "250");
  scoped_env g("UVM_EVICTION", "lru");
  scoped_env h("UVM_PREFETCH", "tree");
  scoped_env i("UVM_THRASHING_MIGRATIONS", "5");
  scoped_env j("UVM_THRASHING_LAPSE_US", "2000");
  scoped_env k("UVM_PROMOTE_REMOTE", "1");
  scoped_env l("UVM_STATS", "1");
  const uvm::config cfg = uvm::config::from_env();
  EXPECT_TRUE(cfg.promote_remote);
  EXPECT_TRUE(cfg.print_stats);
  EXPECT_EQ(cfg.page_size, 2u << 20);
  EXPECT_EQ(cfg.device_budget, 3ull << 30);
  EXPECT_EQ(cfg.backend, uvm::backend_kind::emulated);
  EXPECT_EQ(cfg.log, uvm::log_level::debug);
  EXPECT_EQ(cfg.fault_timeout.count(), 250);
  EXPECT_EQ(cfg.eviction, uvm::eviction_kind::lru);
  EXPECT_EQ(cfg.prefetch, uvm::prefetch_kind::tree);
  EXPECT_EQ(cfg.thrashing_migrations, 5u);
  EXPECT_EQ(cfg.thrashing_lapse.count(), 2000);
}

TEST(Config, TheCudaDevicesAreAllOrAListOfDistinctOrdinals) {
  EXPECT_TRUE(uvm::config{}.cuda_devices.empty()) << "every visible GPU by default";
  {
    scoped_env e("UVM_CUDA_DEVICES", "2,0");
    EXPECT_EQ(uvm::config::from_env().cuda_devices, (std::vector<unsigned>{2, 0}));
  }
  {
    scoped_env e("UVM_CUDA_DEVICES", "all");
    EXPECT_TRUE(uvm::config::from_env().cuda_devices.empty());
  }
  for (const char* bad : {"1,1", "32", "0,1,2,3,4,5,6,7,8", "", "0,", "a", "-1", "0;1"}) {
    scoped_env e("UVM_CUDA_DEVICES", bad);
    try {
      (void)uvm::config::from_env();
      ADD_FAILURE() << "'" << bad << "' was accepted";
    } catch (const uvm::invalid_argument& ex) {
      EXPECT_NE(std::string(ex.what()).find("UVM_CUDA_DEVICES"), std::string::npos) << ex.what();
    }
  }
}

TEST(Config, SizesAcceptSuffixes) {
  for (auto [text, value] :
       {std::pair{"4096", 4096ull}, std::pair{"64K", 65536ull}, std::pair{"64k", 65536ull},
        std::pair{"64KiB", 65536ull}, std::pair{"1G", 1ull << 30}}) {
    scoped_env e("UVM_PAGE_SIZE", text);
    EXPECT_EQ(uvm::config::from_env().page_size, value) << text;
  }
}

void expect_rejected(const char* var, const char* value) {
  scoped_env e(var, value);
  try {
    (void)uvm::config::from_env();
    ADD_FAILURE() << var << "=" << value << " was accepted";
  } catch (const uvm::invalid_argument& err) {
    EXPECT_NE(std::string(err.what()).find(var), std::string::npos) << err.what();
  }
}

TEST(Config, BadValuesNameTheirVariable) {
  expect_rejected("UVM_PAGE_SIZE", "lots");
  expect_rejected("UVM_PAGE_SIZE", "12Q");
  expect_rejected("UVM_PAGE_SIZE", "3000");  // not a power of two
  expect_rejected("UVM_STATS", "yes");
  expect_rejected("UVM_PROMOTE_REMOTE", "2");
  expect_rejected("UVM_PAGE_SIZE", "99999999999999999999");
  expect_rejected("UVM_DEVICE_BUDGET", "-1");
  expect_rejected("UVM_BACKEND", "opencl");
  expect_rejected("UVM_FAULT_MECHANISM", "uffd");
  expect_rejected("UVM_LOG_LEVEL", "loud");
  expect_rejected("UVM_EVICTION", "random");
  expect_rejected("UVM_EVICTION", "mru");
  expect_rejected("UVM_PREFETCH", "always");
  expect_rejected("UVM_THRASHING_MIGRATIONS", "lots");
  expect_rejected("UVM_THRASHING_MIGRATIONS", "5000");
  expect_rejected("UVM_THRASHING_LAPSE_US", "0");
  expect_rejected("UVM_FAULT_TIMEOUT_MS", "0");
  expect_rejected("UVM_FAULT_TIMEOUT_MS", "10s");
}

TEST(Config, NamesRoundTrip) {
  EXPECT_EQ(uvm::to_string(uvm::backend_kind::automatic), "auto");
  EXPECT_EQ(uvm::to_string(uvm::fault_mechanism::signal), "signal");
  EXPECT_EQ(uvm::to_string(uvm::fault_mechanism::userfaultfd), "userfaultfd");
  EXPECT_EQ(uvm::to_string(uvm::fault_mechanism::automatic), "auto");
  for (const char* name : {"auto", "signal", "userfaultfd"}) {
    scoped_env e("UVM_FAULT_MECHANISM", name);
    EXPECT_EQ(uvm::to_string(uvm::config::from_env().faults), name);
  }
  EXPECT_EQ(uvm::to_string(uvm::log_level::warn), "warn");
}

}  // namespace
