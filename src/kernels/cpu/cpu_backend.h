#pragma once

#include <memory>
#include <string>

#include "kernels/backend.h"

namespace dsinfer::kernels {

// Multi-threaded CPU backend (all cores through one ThreadPool it owns). `isa`:
// "auto", "avx512", "avx2" or "scalar"; throws when the CPU lacks the level.
// map_weights: BackendOptions::map_weights.
std::unique_ptr<Backend> make_cpu_backend(int threads, const std::string& isa = "auto", bool map_weights = false);

}  // namespace dsinfer::kernels
