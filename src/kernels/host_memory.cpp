#include "kernels/host_memory.h"

#include <sys/mman.h>

#include <cstdlib>
#include <cstring>
#include <new>

#include "core/error.h"

namespace dsinfer::kernels {

namespace {
// From this size on, fresh anonymous pages (zero already, so no memset pass)
// with transparent huge pages: repacked weights (a gigabyte at load) then
// fault in 2 MB at a time, cleared by the kernel on the threads that first
// write them, instead of 4 KB faults after a single-threaded memset.
constexpr size_t kMapThreshold = size_t{1} << 20;
}  // namespace

Buffer host_alloc(size_t bytes) {
  const size_t rounded = ((bytes == 0 ? 1 : bytes) + 63) / 64 * 64;
  if (rounded >= kMapThreshold) {
    void* p = mmap(nullptr, rounded, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) fail("out of memory allocating ", bytes, " bytes");
    madvise(p, rounded, MADV_HUGEPAGE);  // advice only: without THP, ordinary pages
    return Buffer(std::shared_ptr<void>(p, [rounded](void* q) { munmap(q, rounded); }), bytes);
  }
  void* p = std::aligned_alloc(64, rounded);
  if (!p) fail("out of memory allocating ", bytes, " bytes");
  std::memset(p, 0, rounded);
  return Buffer(std::shared_ptr<void>(p, [](void* q) { std::free(q); }), bytes);
}

}  // namespace dsinfer::kernels
