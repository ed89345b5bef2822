#include "model/kv_cache.h"

#include "core/error.h"

namespace dsinfer::model {

KVCache::KVCache(kernels::Backend& backend, const KVCacheSpec& spec, int64_t num_blocks, int64_t block_size)
    : spec_(spec), num_blocks_(num_blocks), block_size_(block_size) {
  if (num_blocks <= 0 || block_size <= 0) fail("KV cache needs a positive number of blocks and block size");
  const size_t slots = static_cast<size_t>(num_blocks * block_size);
  for (int64_t l = 0; l < spec.n_layers; ++l) {
    k_.push_back(backend.alloc(slots * static_cast<size_t>(spec.k_row) * 4));
    if (spec.v_row > 0) v_.push_back(backend.alloc(slots * static_cast<size_t>(spec.v_row) * 4));
  }
}

float* KVCache::v(int64_t layer) const {
  return spec_.v_row > 0 ? v_[static_cast<size_t>(layer)].f32() : k(layer);
}

size_t KVCache::bytes() const {
  return static_cast<size_t>(num_blocks_ * block_size_ * spec_.bytes_per_token());
}

}  // namespace dsinfer::model
