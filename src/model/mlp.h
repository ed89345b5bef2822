// SwiGLU MLP: down_proj(silu(gate_proj(x)) * up_proj(x)). Used for dense
// layers, DeepSeek's dense first layers, shared experts and routed experts.
#pragma once

#include <string>

#include "model/layer.h"
#include "model/weight_loader.h"

namespace dsinfer::model {

class Mlp final : public FfnLayer {
 public:
  // prefix: e.g. "model.layers.3.mlp" or "model.layers.3.mlp.experts.7".
  Mlp(const WeightLoader& w, const std::string& prefix, int64_t hidden, int64_t intermediate);
  void forward(ForwardContext& ctx, const float* x, int64_t n, float* out) override;

  size_t weight_bytes() const { return gate_proj_.bytes() + up_proj_.bytes() + down_proj_.bytes(); }

 private:
  int64_t hidden_;
  int64_t intermediate_;
  kernels::Weight gate_proj_;  // [intermediate, hidden]
  kernels::Weight up_proj_;    // [intermediate, hidden]
  kernels::Weight down_proj_;  // [hidden, intermediate]
};

// y[n, w.rows] = x[n, w.cols] W^T (+ bias), contiguous rows.
void linear(kernels::Backend& b, const float* x, int64_t n, const kernels::Weight& w, float* y,
            const float* bias = nullptr);

}  // namespace dsinfer::model
