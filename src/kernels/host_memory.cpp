#include "kernels/host_memory.h"

#include <cstdlib>
#include <cstring>
#include <new>

#include "core/error.h"

namespace dsinfer::kernels {

Buffer host_alloc(size_t bytes) {
  const size_t rounded = ((bytes == 0 ? 1 : bytes) + 63) / 64 * 64;
  void* p = std::aligned_alloc(64, rounded);
  if (!p) fail("out of memory allocating ", bytes, " bytes");
  std::memset(p, 0, rounded);
  return Buffer(std::shared_ptr<void>(p, [](void* q) { std::free(q); }), bytes);
}

}  // namespace dsinfer::kernels
