#include "kernels/buffer_cache.h"

#include <cstring>
#include <map>
#include <mutex>

#include "kernels/host_memory.h"

namespace dsinfer::kernels {

struct HostBufferCache::State {
  mutable std::mutex mu;
  std::multimap<size_t, Buffer> free;  // by capacity
  size_t cached = 0;
  size_t max_cached = 0;

  Buffer take(size_t bytes) {
    std::lock_guard<std::mutex> lock(mu);
    auto it = free.lower_bound(bytes);
    if (it == free.end() || it->first / 2 > bytes) return {};  // none, or too wasteful
    Buffer b = std::move(it->second);
    cached -= it->first;
    free.erase(it);
    return b;
  }

  void give_back(Buffer b) {
    std::lock_guard<std::mutex> lock(mu);
    if (cached + b.bytes() > max_cached) return;  // freed as b goes out of scope
    cached += b.bytes();
    free.emplace(b.bytes(), std::move(b));
  }
};

HostBufferCache::HostBufferCache(Limits limits) : limits_(limits), state_(std::make_shared<State>()) {
  state_->max_cached = limits.max_cached;
}

Buffer HostBufferCache::get(size_t bytes, bool zero) {
  if (bytes < limits_.min_bytes || bytes > limits_.max_bytes) return host_alloc(bytes);
  Buffer block = state_->take(bytes);
  if (block.data()) {
    if (zero) std::memset(block.data(), 0, bytes);
  } else {
    block = host_alloc(bytes);
  }
  void* p = block.data();
  std::weak_ptr<State> owner = state_;
  // The handed-out buffer's last owner returns the whole block to the cache.
  auto back = [owner, block](void*) mutable {
    if (auto s = owner.lock()) s->give_back(std::move(block));
    block = Buffer();
  };
  return Buffer(std::shared_ptr<void>(p, std::move(back)), bytes);
}

size_t HostBufferCache::cached_bytes() const {
  std::lock_guard<std::mutex> lock(state_->mu);
  return state_->cached;
}

}  // namespace dsinfer::kernels
