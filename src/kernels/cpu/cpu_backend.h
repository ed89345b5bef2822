#pragma once

#include <memory>

#include "kernels/backend.h"

namespace dsinfer::kernels {

// Multi-threaded CPU backend (all cores through one ThreadPool it owns).
std::unique_ptr<Backend> make_cpu_backend(int threads);

}  // namespace dsinfer::kernels
