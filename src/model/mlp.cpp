#include "model/mlp.h"

namespace dsinfer::model {

kernels::MatmulArgs linear_args(const float* x, int64_t n, const kernels::Weight& w, float* y, const float* bias) {
  kernels::MatmulArgs a;
  a.x = x;
  a.x_stride = w.cols;
  a.n = n;
  a.w = &w;
  a.bias = bias;
  a.y = y;
  a.y_stride = w.rows;
  return a;
}

void linear(kernels::Backend& b, const float* x, int64_t n, const kernels::Weight& w, float* y, const float* bias) {
  b.matmul(linear_args(x, n, w, y, bias));
}

Mlp::Mlp(const WeightLoader& w, const std::string& prefix, int64_t hidden, int64_t intermediate)
    : hidden_(hidden),
      intermediate_(intermediate),
      gate_proj_(w.matrix(prefix + ".gate_proj.weight", intermediate, hidden)),
      up_proj_(w.matrix(prefix + ".up_proj.weight", intermediate, hidden)),
      down_proj_(w.matrix(prefix + ".down_proj.weight", hidden, intermediate)) {}

void Mlp::forward(ForwardContext& ctx, const float* x, int64_t n, float* out) {
  kernels::Backend& b = ctx.backend;
  kernels::Buffer gate = ctx.output(n * intermediate_);  // [n, intermediate]
  kernels::Buffer up = ctx.output(n * intermediate_);    // [n, intermediate]
  const auto gu = gate_up(x, n, gate.f32(), up.f32());
  b.matmul_batch(gu.data(), gu.size());  // one pass, x quantized once
  b.silu_mul(gate.f32(), up.f32(), gate.f32(), n * intermediate_);
  b.matmul(down(gate.f32(), n, out));
}

std::array<kernels::MatmulArgs, 2> Mlp::gate_up(const float* x, int64_t n, float* gate, float* up) const {
  return {linear_args(x, n, gate_proj_, gate), linear_args(x, n, up_proj_, up)};
}

kernels::MatmulArgs Mlp::down(const float* h, int64_t n, float* out) const { return linear_args(h, n, down_proj_, out); }

}  // namespace dsinfer::model
