#pragma once

#include <memory>

#include "kernels/backend.h"

namespace dsinfer::kernels {

// Single-threaded backend running the scalar reference kernels: the oracle.
std::unique_ptr<Backend> make_reference_backend();

}  // namespace dsinfer::kernels
