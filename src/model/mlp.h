// SwiGLU MLP: down_proj(silu(gate_proj(x)) * up_proj(x)). Used for dense
// layers, DeepSeek's dense first layers, shared experts and routed experts.
#pragma once

#include <array>
#include <string>

#include "model/layer.h"
#include "model/weight_loader.h"

namespace dsinfer::model {

class Mlp final : public FfnLayer {
 public:
  // prefix: e.g. "model.layers.3.mlp" or "model.layers.3.mlp.experts.7".
  Mlp(const WeightLoader& w, const std::string& prefix, int64_t hidden, int64_t intermediate);
  void forward(ForwardContext& ctx, const float* x, int64_t n, float* out) override;

  // The products of forward(), for callers that batch several MLPs (MoE):
  // gate and up of x [n, hidden] into gate, up [n, intermediate]; down of
  // h [n, intermediate] into out [n, hidden].
  std::array<kernels::MatmulArgs, 2> gate_up(const float* x, int64_t n, float* gate, float* up) const;
  kernels::MatmulArgs down(const float* h, int64_t n, float* out) const;
  int64_t intermediate() const { return intermediate_; }

  size_t weight_bytes() const { return gate_proj_.bytes() + up_proj_.bytes() + down_proj_.bytes(); }

 private:
  int64_t hidden_;
  int64_t intermediate_;
  kernels::Weight gate_proj_;  // [intermediate, hidden]
  kernels::Weight up_proj_;    // [intermediate, hidden]
  kernels::Weight down_proj_;  // [hidden, intermediate]
};

// The arguments of y[n, w.rows] = x[n, w.cols] W^T (+ bias), contiguous rows.
kernels::MatmulArgs linear_args(const float* x, int64_t n, const kernels::Weight& w, float* y,
                                const float* bias = nullptr);
// y[n, w.rows] = x[n, w.cols] W^T (+ bias), contiguous rows.
void linear(kernels::Backend& b, const float* x, int64_t n, const kernels::Weight& w, float* y,
            const float* bias = nullptr);

}  // namespace dsinfer::model
