#include "kernels/host_arena.h"

#include <memory>

#include "kernels/host_memory.h"

namespace dsinfer::kernels {

namespace {
size_t round64(size_t bytes) { return ((bytes == 0 ? 1 : bytes) + 63) / 64 * 64; }
}  // namespace

Buffer HostArena::alloc(size_t bytes) {
  const size_t rounded = round64(bytes);
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

HostArena::Stripes HostArena::alloc_striped(size_t bytes) {
  const size_t rounded = round64(bytes);
  // The Buffer spans the first stripe's first byte to the last one's end.
  const auto stripes = [bytes](const Buffer& mapping, size_t offset, size_t stride) {
    void* p = static_cast<char*>(mapping.data()) + offset;
    return Stripes{Buffer(std::shared_ptr<void>(p, [mapping](void*) {}), stride * (kStripes - 1) + bytes), stride};
  };
  if (rounded > kChunkBytes / 2) {
    const size_t stride = (rounded + kStripeAlign - 1) / kStripeAlign * kStripeAlign;
    return stripes(host_map(stride * kStripes), 0, stride);
  }
  std::lock_guard<std::mutex> lock(mu_);
  if (!striped_.data() || striped_used_ + rounded > kChunkBytes) {
    striped_ = host_map(kChunkBytes * kStripes);
    striped_used_ = 0;
  }
  striped_used_ += rounded;
  return stripes(striped_, striped_used_ - rounded, kChunkBytes);
}

}  // namespace dsinfer::kernels
