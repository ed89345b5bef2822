#include "model/moe.h"

namespace dsinfer::model {

Moe::Moe(const WeightLoader& w, const io::ModelConfig& cfg, const std::string& prefix)
    : hidden_(cfg.hidden_size), gate_(w.matrix(prefix + ".gate.weight", cfg.n_routed_experts, cfg.hidden_size)) {
  if (cfg.topk_method == "noaux_tc") bias_ = w.vector(prefix + ".gate.e_score_correction_bias", cfg.n_routed_experts);
  route_.bias = bias_.f32();
  route_.n_experts = cfg.n_routed_experts;
  route_.top_k = cfg.num_experts_per_tok;
  route_.n_group = cfg.n_group;
  route_.topk_group = cfg.topk_group;
  route_.method = cfg.topk_method == "noaux_tc"               ? kernels::TopkMethod::NoauxTc
                  : cfg.topk_method == "group_limited_greedy" ? kernels::TopkMethod::GroupLimitedGreedy
                                                              : kernels::TopkMethod::Greedy;
  route_.scoring = cfg.scoring_func == "sigmoid" ? kernels::ScoringFunc::Sigmoid : kernels::ScoringFunc::Softmax;
  route_.norm_topk_prob = cfg.norm_topk_prob;
  route_.routed_scaling_factor = static_cast<float>(cfg.routed_scaling_factor);
  route_.always_scale = cfg.model_type == "deepseek_v3";
  for (int64_t e = 0; e < cfg.n_routed_experts; ++e)
    experts_.push_back(std::make_unique<Mlp>(w, prefix + ".experts." + std::to_string(e), hidden_,
                                             cfg.moe_intermediate_size));
  if (cfg.n_shared_experts > 0)
    shared_ = std::make_unique<Mlp>(w, prefix + ".shared_experts", hidden_,
                                    cfg.moe_intermediate_size * cfg.n_shared_experts);
}

void Moe::route(ForwardContext& ctx, const float* x, int64_t n, std::vector<int32_t>& ids,
                std::vector<float>& weights) {
  kernels::Backend& b = ctx.backend;
  const int64_t k = route_.top_k;
  kernels::Buffer logits = ctx.scratch(n * route_.n_experts);  // [n, n_routed_experts]
  linear(b, x, n, gate_, logits.f32());
  kernels::Buffer id_buf = ctx.scratch(n * k);  // [n, top_k] i32
  kernels::Buffer w_buf = ctx.scratch(n * k);   // [n, top_k]
  kernels::MoeRouteArgs a = route_;
  a.logits = logits.f32();
  a.n = n;
  a.out_ids = id_buf.i32();
  a.out_weights = w_buf.f32();
  b.moe_route(a);
  ids.resize(static_cast<size_t>(n * k));
  weights.resize(ids.size());
  b.download(ids.data(), id_buf, ids.size() * 4);
  b.download(weights.data(), w_buf, weights.size() * 4);
}

void Moe::forward(ForwardContext& ctx, const float* x, int64_t n, float* out) {
  kernels::Backend& b = ctx.backend;
  std::vector<float> weights;
  route(ctx, x, n, last_ids_, weights);
  const int64_t k = route_.top_k;
  // Tokens grouped by expert: each expert runs once on all the rows routed to it.
  std::vector<std::vector<int64_t>> rows(experts_.size());
  std::vector<std::vector<float>> row_w(experts_.size());
  for (int64_t t = 0; t < n; ++t)
    for (int64_t j = 0; j < k; ++j) {
      const auto e = static_cast<size_t>(last_ids_[static_cast<size_t>(t * k + j)]);
      rows[e].push_back(t);
      row_w[e].push_back(weights[static_cast<size_t>(t * k + j)]);
    }
  if (shared_) {
    shared_->forward(ctx, x, n, out);
  } else {
    const kernels::Buffer zero = ctx.scratch(n * hidden_);  // scratch is zeroed
    b.copy_rows({zero.f32(), hidden_, out, hidden_, n, hidden_, nullptr, nullptr});
  }
  for (size_t e = 0; e < experts_.size(); ++e) {
    const int64_t m = static_cast<int64_t>(rows[e].size());
    if (m == 0) continue;
    kernels::Buffer idx = ctx.upload_i64(rows[e]);
    kernels::Buffer wts = ctx.scratch(m);
    b.upload(wts, row_w[e].data(), static_cast<size_t>(m) * 4);
    kernels::Buffer xe = ctx.scratch(m * hidden_);  // [m, hidden]
    b.copy_rows({x, hidden_, xe.f32(), hidden_, m, hidden_, idx.i64(), nullptr});
    kernels::Buffer ye = ctx.scratch(m * hidden_);  // [m, hidden]
    experts_[e]->forward(ctx, xe.f32(), m, ye.f32());
    b.scatter_add({ye.f32(), hidden_, idx.i64(), wts.f32(), out, hidden_, m, hidden_});
  }
}

}  // namespace dsinfer::model
