#pragma once

/// @file
/// Everything a C++ application needs: `#include <uvm/uvm.hpp>`.

#include <uvm/advice.hpp>
#include <uvm/config.hpp>
#include <uvm/device_model.hpp>
#include <uvm/device_view.hpp>
#include <uvm/error.hpp>
#include <uvm/launch.hpp>
#include <uvm/launch_scope.hpp>
#include <uvm/location.hpp>
#include <uvm/manager.hpp>
#include <uvm/page_state.hpp>
#include <uvm/range.hpp>
#include <uvm/stats.hpp>
#include <uvm/stream.hpp>
#include <uvm/thread.hpp>
