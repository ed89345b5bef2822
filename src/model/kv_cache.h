// KV cache storage: per layer, num_blocks x block_size slots of float32 or
// bfloat16 rows (KVCacheSpec::dtype).
// Dense GQA keeps K and V rows of n_kv_heads * head_dim each; MLA keeps one
// latent row of kv_lora_rank + qk_rope_head_dim (the normalised latent and the
// roped shared key) and no V. Block ownership is the engine's business; this
// class only holds memory.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/dtype.h"
#include "kernels/backend.h"

namespace dsinfer::model {

// The cache's element type as asked for (--kv-cache-dtype). Auto: bf16 for
// a model whose weights are integer-quantized (their own error, ~1e-2 of a
// logit, dwarfs bf16's 2^-9 rounding of K and V; half the memory per token
// and half the bytes decode attention reads), float32 for float weights, so
// a float checkpoint's logits keep matching the float32 reference to 1e-3.
enum class CacheDType { Auto, F32, BF16 };

// "auto", "f32" or "bf16"; throws naming the value otherwise.
CacheDType parse_cache_dtype(const std::string& name);

struct KVCacheSpec {
  int64_t n_layers = 0;
  int64_t k_row = 0;  // values per token per layer in the K (or latent) row
  int64_t v_row = 0;  // 0 when V is read from the K row (MLA)
  DType dtype = DType::F32;  // F32 or BF16

  int64_t values_per_token() const { return n_layers * (k_row + v_row); }
  int64_t bytes_per_token() const { return values_per_token() * static_cast<int64_t>(dtype_size(dtype)); }
};

class KVCache {
 public:
  KVCache(kernels::Backend& backend, const KVCacheSpec& spec, int64_t num_blocks, int64_t block_size);

  const KVCacheSpec& spec() const { return spec_; }
  int64_t num_blocks() const { return num_blocks_; }
  int64_t block_size() const { return block_size_; }
  DType dtype() const { return spec_.dtype; }
  void* k(int64_t layer) const { return k_[static_cast<size_t>(layer)].data(); }  // [num_blocks * block_size, k_row]
  void* v(int64_t layer) const;  // [num_blocks * block_size, v_row]; the K row when v_row == 0
  size_t bytes() const;

 private:
  KVCacheSpec spec_;
  int64_t num_blocks_;
  int64_t block_size_;
  std::vector<kernels::Buffer> k_;
  std::vector<kernels::Buffer> v_;
};

}  // namespace dsinfer::model
