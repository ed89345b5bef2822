// Host memory shared by the CPU-side backends: 64-byte aligned, zeroed.
#pragma once

#include <cstddef>

#include "kernels/backend.h"

namespace dsinfer::kernels {

Buffer host_alloc(size_t bytes);

// A fresh anonymous mapping (zero pages) advised onto transparent huge pages,
// whatever its size.
Buffer host_map(size_t bytes);

}  // namespace dsinfer::kernels
