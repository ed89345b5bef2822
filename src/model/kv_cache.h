// KV cache storage: per layer, num_blocks x block_size slots of float32 rows.
// Dense GQA keeps K and V rows of n_kv_heads * head_dim each; MLA keeps one
// latent row of kv_lora_rank + qk_rope_head_dim (the normalised latent and the
// roped shared key) and no V. Block ownership is the engine's business; this
// class only holds memory.
#pragma once

#include <cstdint>
#include <vector>

#include "kernels/backend.h"

namespace dsinfer::model {

struct KVCacheSpec {
  int64_t n_layers = 0;
  int64_t k_row = 0;  // values per token per layer in the K (or latent) row
  int64_t v_row = 0;  // 0 when V is read from the K row (MLA)

  int64_t values_per_token() const { return n_layers * (k_row + v_row); }
  int64_t bytes_per_token() const { return values_per_token() * 4; }
};

class KVCache {
 public:
  KVCache(kernels::Backend& backend, const KVCacheSpec& spec, int64_t num_blocks, int64_t block_size);

  const KVCacheSpec& spec() const { return spec_; }
  int64_t num_blocks() const { return num_blocks_; }
  int64_t block_size() const { return block_size_; }
  float* k(int64_t layer) const { return k_[static_cast<size_t>(layer)].f32(); }  // [num_blocks * block_size, k_row]
  float* v(int64_t layer) const;  // [num_blocks * block_size, v_row]; the K row when v_row == 0
  size_t bytes() const;

 private:
  KVCacheSpec spec_;
  int64_t num_blocks_;
  int64_t block_size_;
  std::vector<kernels::Buffer> k_;
  std::vector<kernels::Buffer> v_;
};

}  // namespace dsinfer::model
