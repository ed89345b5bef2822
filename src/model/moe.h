// DeepSeek Mixture of Experts: a float32 gate (softmax or sigmoid scores,
// group-limited top-k, e_score_correction_bias for selection only), routed
// experts run on the tokens grouped per expert (each selected expert's
// weights are read once per forward pass), plus the shared experts.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "io/hf_config.h"
#include "model/layer.h"
#include "model/mlp.h"
#include "model/weight_loader.h"

namespace dsinfer::model {

class Moe final : public FfnLayer {
 public:
  Moe(const WeightLoader& w, const io::ModelConfig& cfg, const std::string& prefix);
  void forward(ForwardContext& ctx, const float* x, int64_t n, float* out) override;

  // Experts chosen for each of the last forward's tokens: [n][top_k], by selection order.
  const std::vector<int32_t>& last_routing() const { return last_ids_; }
  int64_t top_k() const { return route_.top_k; }
  size_t expert_bytes() const { return experts_.empty() ? 0 : experts_[0]->weight_bytes(); }
  size_t shared_bytes() const { return shared_ ? shared_->weight_bytes() : 0; }
  size_t gate_bytes() const { return gate_.bytes(); }

 private:
  // Per routed expert: the tokens routed to it (ascending) and their routing weights.
  struct ExpertRows {
    std::vector<std::vector<int64_t>> tokens;
    std::vector<std::vector<float>> weights;
  };
  void route(ForwardContext& ctx, const float* x, int64_t n, std::vector<int32_t>& ids, std::vector<float>& weights);
  void run_experts(ForwardContext& ctx, const float* x, int64_t n, const ExpertRows& r, float* out);

  int64_t hidden_;
  kernels::Weight gate_;   // [n_routed_experts, hidden]
  kernels::Buffer bias_;   // e_score_correction_bias [n_routed_experts], empty for V2
  kernels::MoeRouteArgs route_;
  std::vector<std::unique_ptr<Mlp>> experts_;
  std::unique_ptr<Mlp> shared_;  // intermediate = moe_intermediate_size * n_shared_experts
  std::vector<int32_t> last_ids_;
};

}  // namespace dsinfer::model
