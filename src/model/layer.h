// The two halves of a decoder layer, as interfaces, so one decoder stack
// (decoder.cpp) serves every family: GQA or MLA attention, MLP or MoE FFN.
#pragma once

#include <cstdint>

#include "model/forward_context.h"
#include "model/kv_cache.h"

namespace dsinfer::model {

class AttentionLayer {
 public:
  virtual ~AttentionLayer() = default;
  // x: [n_tokens, hidden_size] (normed); out: [n_tokens, hidden_size]. Writes this layer's cache rows.
  virtual void forward(ForwardContext& ctx, KVCache& cache, int64_t layer, const float* x, float* out) = 0;
  // Bytes a decode step reads beyond the checkpoint's own tensors (weights
  // derived at load time, minus the stored ones they replace on that path).
  virtual int64_t decode_bytes_delta() const { return 0; }
};

class FfnLayer {
 public:
  virtual ~FfnLayer() = default;
  // x: [n, hidden_size]; out: [n, hidden_size] (overwritten).
  virtual void forward(ForwardContext& ctx, const float* x, int64_t n, float* out) = 0;
};

}  // namespace dsinfer::model
