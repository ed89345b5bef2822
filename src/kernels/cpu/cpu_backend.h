#pragma once

#include <memory>
#include <string>

#include "kernels/backend.h"

namespace dsinfer::kernels {

// Multi-threaded CPU backend (all cores through one ThreadPool it owns), as
// BackendOptions says (threads, isa, map_weights, stripe_weights); throws
// when the CPU lacks the ISA level asked for.
std::unique_ptr<Backend> make_cpu_backend(const BackendOptions& opts);

}  // namespace dsinfer::kernels
