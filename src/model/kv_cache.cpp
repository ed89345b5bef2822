#include "model/kv_cache.h"

#include "core/error.h"

namespace dsinfer::model {

KVCache::KVCache(kernels::Backend& backend, const KVCacheSpec& spec, int64_t num_blocks, int64_t block_size)
    : spec_(spec), num_blocks_(num_blocks), block_size_(block_size) {
  if (num_blocks <= 0 || block_size <= 0) fail("KV cache needs a positive number of blocks and block size");
  if (spec.dtype != DType::F32 && spec.dtype != DType::BF16)
    fail("KV cache values are F32 or BF16, not ", dtype_name(spec.dtype));
  const size_t slots = static_cast<size_t>(num_blocks * block_size), elem = dtype_size(spec.dtype);
  for (int64_t l = 0; l < spec.n_layers; ++l) {
    k_.push_back(backend.alloc(slots * static_cast<size_t>(spec.k_row) * elem));
    if (spec.v_row > 0) v_.push_back(backend.alloc(slots * static_cast<size_t>(spec.v_row) * elem));
  }
}

CacheDType parse_cache_dtype(const std::string& name) {
  if (name == "auto") return CacheDType::Auto;
  if (name == "f32" || name == "float32") return CacheDType::F32;
  if (name == "bf16" || name == "bfloat16") return CacheDType::BF16;
  fail("unknown KV cache dtype '", name, "' (expected auto, f32 or bf16)");
}

void* KVCache::v(int64_t layer) const {
  return spec_.v_row > 0 ? v_[static_cast<size_t>(layer)].data() : k(layer);
}

size_t KVCache::bytes() const {
  return static_cast<size_t>(num_blocks_ * block_size_ * spec_.bytes_per_token());
}

}  // namespace dsinfer::model
