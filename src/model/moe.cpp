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
  kernels::Buffer logits = ctx.output(n * route_.n_experts);  // [n, n_routed_experts]
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
  ExpertRows r;
  r.tokens.resize(experts_.size());
  r.weights.resize(experts_.size());
  for (int64_t t = 0; t < n; ++t)
    for (int64_t j = 0; j < k; ++j) {
      const auto e = static_cast<size_t>(last_ids_[static_cast<size_t>(t * k + j)]);
      r.tokens[e].push_back(t);
      r.weights[e].push_back(weights[static_cast<size_t>(t * k + j)]);
    }
  if (!shared_) {  // the shared experts' down product writes out; without them the routed ones add to zero
    const kernels::Buffer zero = ctx.scratch(n * hidden_);  // scratch is zeroed
    b.copy_rows({zero.f32(), hidden_, out, hidden_, n, hidden_, nullptr, nullptr});
  }
  run_experts(ctx, x, n, r, out);
}

// The selected experts' rows concatenated in expert order, so that each of
// gate/up, down is one batch over all experts (a decode token's 6 small
// experts fill both cores together) and one scatter adds them all, per token
// in expert order as before. The shared experts (all n tokens, ahead of the
// routed rows) go in the same two batches: x is quantized once for both.
void Moe::run_experts(ForwardContext& ctx, const float* x, int64_t n, const ExpertRows& r, float* out) {
  kernels::Backend& b = ctx.backend;
  std::vector<size_t> active;
  std::vector<int64_t> first{0}, idx_host;  // first[i]: row of active[i] in the concatenation
  std::vector<float> w_host;
  bool gather = false;
  for (size_t e = 0; e < experts_.size(); ++e) {
    const auto m = static_cast<int64_t>(r.tokens[e].size());
    if (m == 0) continue;
    active.push_back(e);
    first.push_back(first.back() + m);
    idx_host.insert(idx_host.end(), r.tokens[e].begin(), r.tokens[e].end());
    w_host.insert(w_host.end(), r.weights[e].begin(), r.weights[e].end());
    gather = gather || m != n;
  }
  const int64_t total = first.back(), inter = experts_.empty() ? 0 : experts_[0]->intermediate();
  const int64_t lead = shared_ ? n * shared_->intermediate() : 0;  // the shared experts' gate/up values
  if (total + lead == 0) return;
  const kernels::Buffer idx = ctx.upload_i64(idx_host);
  const kernels::Buffer wts = ctx.scratch(total);
  b.upload(wts, w_host.data(), w_host.size() * 4);
  // An expert taking every token (all of them when decoding one) reads x in
  // place, so x is quantized once for all of them.
  const kernels::Buffer xe = ctx.output(gather ? total * hidden_ : 1);  // [total, hidden]
  if (gather) b.copy_rows({x, hidden_, xe.f32(), hidden_, total, hidden_, idx.i64(), nullptr});
  // [n, shared intermediate] then [total, intermediate]
  const kernels::Buffer gate = ctx.output(lead + total * inter), up = ctx.output(lead + total * inter);
  float* const g = gate.f32() + lead;  // the routed rows
  float* const u = up.f32() + lead;
  const kernels::Buffer ye = ctx.output(total * hidden_);  // [total, hidden]
  std::vector<kernels::MatmulArgs> args;
  if (shared_)
    for (const auto& a : shared_->gate_up(x, n, gate.f32(), up.f32())) args.push_back(a);
  for (size_t i = 0; i < active.size(); ++i) {
    const int64_t m = first[i + 1] - first[i];
    const float* xi = m == n ? x : xe.f32() + first[i] * hidden_;
    for (const auto& a : experts_[active[i]]->gate_up(xi, m, g + first[i] * inter, u + first[i] * inter)) args.push_back(a);
  }
  b.matmul_batch(args.data(), args.size());
  b.silu_mul(gate.f32(), up.f32(), gate.f32(), lead + total * inter);
  args.clear();
  if (shared_) args.push_back(shared_->down(gate.f32(), n, out));
  for (size_t i = 0; i < active.size(); ++i)
    args.push_back(experts_[active[i]]->down(g + first[i] * inter, first[i + 1] - first[i], ye.f32() + first[i] * hidden_));
  b.matmul_batch(args.data(), args.size());
  if (total > 0) b.scatter_add({ye.f32(), hidden_, idx.i64(), wts.f32(), out, hidden_, total, hidden_});
}

}  // namespace dsinfer::model
