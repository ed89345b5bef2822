#include "kernels/host_arena.h"

#include <memory>

#include "kernels/host_memory.h"

namespace dsinfer::kernels {

Buffer HostArena::alloc(size_t bytes) {
  const size_t rounded = ((bytes == 0 ? 1 : bytes) + 63) / 64 * 64;
  if (rounded > kChunkBytes / 2) return host_map(bytes);
  std::lock_guard<std::mutex> lock(mu_);
  if (!chunk_.data() || used_ + rounded > kChunkBytes) {  // the old chunk's tail is never touched: no memory
    chunk_ = host_map(kChunkBytes);
    used_ = 0;
  }
  void* p = static_cast<char*>(chunk_.data()) + used_;
  used_ += rounded;
  // The deleter's copy of the chunk keeps the mapping alive while this slice is.
  return Buffer(std::shared_ptr<void>(p, [chunk = chunk_](void*) {}), bytes);
}

}  // namespace dsinfer::kernels
