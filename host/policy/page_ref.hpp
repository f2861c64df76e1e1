#pragma once

// A page as policies see it: the public uvm::page_ref (uvm/policy.hpp), named in detail too.

#include <uvm/policy.hpp>

namespace uvm::detail {

using uvm::page_ref;
using uvm::page_ref_hash;

}  // namespace uvm::detail
