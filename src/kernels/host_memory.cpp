#include "kernels/host_memory.h"

#include <sys/mman.h>

#include <cstdlib>
#include <cstring>
#include <new>

#include "core/error.h"

namespace dsinfer::kernels {

namespace {
// From this size on (a KV cache, an lm_head), fresh anonymous pages: zero
// already, so no memset pass touching them all at start (a KV cache sized for
// the whole context is mostly never written), and transparent huge pages
// where written. Below it the heap's zeroed reuse: per-step scratch buffers
// would otherwise fault in fresh pages at every forward pass.
constexpr size_t kMapThreshold = size_t{64} << 20;
}  // namespace

Buffer host_map(size_t bytes) {
  const size_t rounded = ((bytes == 0 ? 1 : bytes) + 63) / 64 * 64;
  void* p = mmap(nullptr, rounded, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) fail("out of memory allocating ", bytes, " bytes");
  madvise(p, rounded, MADV_HUGEPAGE);  // advice only: without THP, ordinary pages
  return Buffer(std::shared_ptr<void>(p, [rounded](void* q) { munmap(q, rounded); }), bytes);
}

Buffer host_alloc(size_t bytes) {
  const size_t rounded = ((bytes == 0 ? 1 : bytes) + 63) / 64 * 64;
  if (rounded >= kMapThreshold) return host_map(bytes);
  void* p = std::aligned_alloc(64, rounded);
  if (!p) fail("out of memory allocating ", bytes, " bytes");
  std::memset(p, 0, rounded);
  return Buffer(std::shared_ptr<void>(p, [](void* q) { std::free(q); }), bytes);
}

}  // namespace dsinfer::kernels
