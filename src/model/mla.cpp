#include "model/mla.h"

#include <array>
#include <cmath>
#include <vector>

#include "model/mlp.h"

namespace dsinfer::model {

MlaAttention::MlaAttention(const WeightLoader& w, const io::ModelConfig& cfg, const std::string& prefix,
                           const RopeTable& rope)
    : hidden_(cfg.hidden_size),
      n_heads_(cfg.num_attention_heads),
      q_lora_rank_(cfg.q_lora_rank),
      kv_lora_rank_(cfg.kv_lora_rank),
      nope_(cfg.qk_nope_head_dim),
      rope_dim_(cfg.qk_rope_head_dim),
      v_dim_(cfg.v_head_dim),
      rope_(rope) {
  const int64_t qk = nope_ + rope_dim_;
  double scale = 1.0 / std::sqrt(static_cast<double>(qk));
  const auto& rs = cfg.rope_scaling;
  if (rs.type == "yarn" && rs.mscale_all_dim != 0.0) {
    const double m = yarn_get_mscale(rs.factor, rs.mscale_all_dim);
    scale *= m * m;
  }
  softmax_scale_ = static_cast<float>(scale);
  if (q_lora_rank_ > 0) {
    q_a_proj_ = w.matrix(prefix + ".q_a_proj.weight", q_lora_rank_, hidden_);
    q_a_layernorm_ = w.vector(prefix + ".q_a_layernorm.weight", q_lora_rank_);
    q_b_proj_ = w.matrix(prefix + ".q_b_proj.weight", n_heads_ * qk, q_lora_rank_);
  } else {
    q_proj_ = w.matrix(prefix + ".q_proj.weight", n_heads_ * qk, hidden_);
  }
  kv_a_proj_with_mqa_ = w.matrix(prefix + ".kv_a_proj_with_mqa.weight", kv_lora_rank_ + rope_dim_, hidden_);
  kv_a_layernorm_ = w.vector(prefix + ".kv_a_layernorm.weight", kv_lora_rank_);
  kv_b_proj_ = w.matrix(prefix + ".kv_b_proj.weight", n_heads_ * (nope_ + v_dim_), kv_lora_rank_);
  o_proj_ = w.matrix(prefix + ".o_proj.weight", hidden_, n_heads_ * v_dim_);
  w_uk_t_ = w.head_transposes(kv_b_proj_, {n_heads_, nope_ + v_dim_, nope_});
}

// Decoding reads W_uk^T instead of kv_b_proj's key rows.
int64_t MlaAttention::decode_bytes_delta() const {
  const auto key_rows = static_cast<int64_t>(kv_b_proj_.bytes()) * nope_ / (nope_ + v_dim_);
  return static_cast<int64_t>(w_uk_t_.w.bytes()) - key_rows;
}

size_t MlaAttention::weight_bytes() const {
  return q_proj_.bytes() + q_a_proj_.bytes() + q_b_proj_.bytes() + kv_a_proj_with_mqa_.bytes() + kv_b_proj_.bytes() +
         o_proj_.bytes();
}

// The two products of x (the query's first, kv_a_proj_with_mqa) go in one
// batch: x quantized once, one pass over the threads.
void MlaAttention::project(ForwardContext& ctx, const float* x, float* q, float* kv) {
  kernels::Backend& b = ctx.backend;
  const int64_t n = ctx.n_tokens;
  const kernels::MatmulArgs latent = linear_args(x, n, kv_a_proj_with_mqa_, kv);
  if (q_lora_rank_ == 0) {
    const std::array<kernels::MatmulArgs, 2> both{linear_args(x, n, q_proj_, q), latent};
    b.matmul_batch(both.data(), both.size());
    return;
  }
  kernels::Buffer qa = ctx.output(n * q_lora_rank_);  // [n, q_lora_rank]
  const std::array<kernels::MatmulArgs, 2> both{linear_args(x, n, q_a_proj_, qa.f32()), latent};
  b.matmul_batch(both.data(), both.size());
  b.rms_norm({qa.f32(), q_lora_rank_, q_a_layernorm_.f32(), qa.f32(), q_lora_rank_, n, q_lora_rank_, norm_eps_});
  linear(b, qa.f32(), n, q_b_proj_, q);
}

void MlaAttention::forward(ForwardContext& ctx, KVCache& cache, int64_t layer, const float* x, float* out) {
  kernels::Backend& b = ctx.backend;
  const int64_t n = ctx.n_tokens;
  const int64_t qk = nope_ + rope_dim_;
  const int64_t row = kv_lora_rank_ + rope_dim_;
  kernels::Buffer q = ctx.output(n * n_heads_ * qk);  // [n, n_heads, nope + rope]
  kernels::Buffer kv = ctx.output(n * row);  // [n, kv_lora_rank + rope]
  project(ctx, x, q.f32(), kv.f32());
  b.rms_norm({kv.f32(), row, kv_a_layernorm_.f32(), kv.f32(), row, n, kv_lora_rank_, norm_eps_});

  kernels::RopeArgs r{q.f32(), n, n_heads_, n_heads_ * qk, qk, nope_, rope_dim_, ctx.positions.i32(),
                      rope_.inv_freq.data(), rope_.mscale, kernels::RopeStyle::Interleaved};
  b.rope(r);
  r.x = kv.f32();
  r.n_heads = 1;
  r.token_stride = row;
  r.head_stride = row;
  r.offset = kv_lora_rank_;
  b.rope(r);
  b.copy_rows({kv.f32(), row, cache.k(layer), row, n, row, nullptr, ctx.slots.i64(), DType::F32, cache.dtype()});
  const Latent latent{cache.k(layer), cache.dtype()};

  kernels::Buffer attn = ctx.output(n * n_heads_ * v_dim_);  // [n, n_heads, v_head_dim]
  // The form is chosen per sequence (decoding ones absorbed), never per batch,
  // so a sequence's numbers do not depend on what else shares its batch.
  std::vector<int64_t> absorbed_rows;
  for (size_t s = 0; s < ctx.batch.seqs.size(); ++s) {
    const SeqSpan& sp = ctx.batch.seqs[s];
    const bool absorbed = ctx.options.mla_mode == MlaMode::Absorbed ||
                          (ctx.options.mla_mode == MlaMode::Auto && sp.n_tokens == 1);
    if (!absorbed) {
      attend_plain_seq(ctx, latent, static_cast<int64_t>(s), q.f32(), attn.f32());
      continue;
    }
    for (int64_t i = 0; i < sp.n_tokens; ++i) absorbed_rows.push_back(ctx.seq_first[s] + i);
  }
  if (!absorbed_rows.empty()) attend_absorbed(ctx, latent, q.f32(), attn.f32(), absorbed_rows);
  linear(b, attn.f32(), n, o_proj_, out);
}

// Per-head K [n_ctx, n_heads, nope + rope] and V [n_ctx, n_heads, v_head_dim]
// of a context's latent rows lat [n_ctx, kv_lora_rank + rope]: kv_b_proj's
// rows of each head written straight into K's nope part and V (one batch of
// 2 x n_heads row slices, lat quantized once), and the shared rope key copied
// beside every head's.
void MlaAttention::up_project(ForwardContext& ctx, const float* lat, int64_t n_ctx, float* k, float* v) {
  kernels::Backend& b = ctx.backend;
  const int64_t row = kv_lora_rank_ + rope_dim_;
  const int64_t qk = nope_ + rope_dim_;
  const int64_t kvb = nope_ + v_dim_;
  std::vector<kernels::Weight> slices(static_cast<size_t>(2 * n_heads_));
  std::vector<kernels::MatmulArgs> args(slices.size());
  for (int64_t h = 0; h < n_heads_; ++h) {
    const auto i = static_cast<size_t>(2 * h);
    slices[i] = kv_b_proj_.slice_rows(h * kvb, nope_);               // [nope, kv_lora_rank]
    slices[i + 1] = kv_b_proj_.slice_rows(h * kvb + nope_, v_dim_);  // [v_head_dim, kv_lora_rank]
    args[i] = {lat, row, n_ctx, &slices[i], false, nullptr, k + h * qk, n_heads_ * qk};
    args[i + 1] = {lat, row, n_ctx, &slices[i + 1], false, nullptr, v + h * v_dim_, n_heads_ * v_dim_};
  }
  b.matmul_batch(args.data(), args.size());
  std::vector<int64_t> pos_of(static_cast<size_t>(n_ctx * n_heads_));  // K row (position, head) -> position
  for (size_t i = 0; i < pos_of.size(); ++i) pos_of[i] = static_cast<int64_t>(i) / n_heads_;
  const kernels::Buffer pos_idx = ctx.upload_i64(pos_of);
  b.copy_rows({lat + kv_lora_rank_, row, k + nope_, qk, n_ctx * n_heads_, rope_dim_, pos_idx.i64(), nullptr});
}

// One sequence: gather its whole context from the cache, up-project to
// per-head K/V laid out as a single contiguous "block", attend causally.
void MlaAttention::attend_plain_seq(ForwardContext& ctx, Latent latent, int64_t s, const float* q, float* attn) {
  kernels::Backend& b = ctx.backend;
  const SeqSpan& sp = ctx.batch.seqs[static_cast<size_t>(s)];
  const int64_t n_ctx = sp.n_past + sp.n_tokens;
  const int64_t row = kv_lora_rank_ + rope_dim_;
  const int64_t qk = nope_ + rope_dim_;
  std::vector<int64_t> ctx_slots(static_cast<size_t>(n_ctx));
  for (int64_t p = 0; p < n_ctx; ++p) ctx_slots[static_cast<size_t>(p)] = ctx.slot_of(s, p);
  kernels::Buffer slot_buf = ctx.upload_i64(ctx_slots);
  kernels::Buffer lat = ctx.output(n_ctx * row);  // [n_ctx, kv_lora_rank + rope]
  b.copy_rows({latent.rows, row, lat.f32(), row, n_ctx, row, slot_buf.i64(), nullptr, latent.dtype, DType::F32});
  kernels::Buffer k = ctx.output(n_ctx * n_heads_ * qk);      // [n_ctx, n_heads, nope + rope]
  kernels::Buffer v = ctx.output(n_ctx * n_heads_ * v_dim_);  // [n_ctx, n_heads, v_head_dim]
  up_project(ctx, lat.f32(), n_ctx, k.f32(), v.f32());
  const int64_t first = ctx.seq_first[static_cast<size_t>(s)];
  std::vector<int32_t> zero(static_cast<size_t>(sp.n_tokens), 0);
  kernels::Buffer seq0 = ctx.scratch(sp.n_tokens);
  b.upload(seq0, zero.data(), zero.size() * 4);
  kernels::Buffer table = ctx.scratch(1);  // one block: id 0
  kernels::AttentionArgs a;
  a.q = q + first * n_heads_ * qk;
  a.q_token_stride = n_heads_ * qk;
  a.q_head_stride = qk;
  a.n_tokens = sp.n_tokens;
  a.n_heads = a.n_kv_heads = n_heads_;
  a.qk_dim = qk;
  a.v_dim = v_dim_;
  a.k_cache = k.f32();
  a.v_cache = v.f32();
  a.k_token_stride = n_heads_ * qk;
  a.v_token_stride = n_heads_ * v_dim_;
  a.k_head_stride = qk;
  a.v_head_stride = v_dim_;
  a.block_size = n_ctx;
  a.positions = ctx.positions.i32() + first;
  a.tok_seq = seq0.i32();
  a.block_tables = table.i32();
  a.max_blocks = 1;
  a.scale = softmax_scale_;
  a.out = attn + first * n_heads_ * v_dim_;
  a.out_token_stride = n_heads_ * v_dim_;
  b.attention(a);
}

namespace {

// The positions and sequence indices of batch tokens `rows`, on the backend.
struct RowPlaces {
  kernels::Buffer pos;  // [rows] int32
  kernels::Buffer seq;  // [rows] int32
};

RowPlaces upload_places(ForwardContext& ctx, const std::vector<int64_t>& rows) {
  std::vector<int32_t> pos(rows.size()), seq(rows.size());
  std::vector<int32_t> seq_of(static_cast<size_t>(ctx.n_tokens));
  for (size_t s = 0; s < ctx.batch.seqs.size(); ++s)
    for (int32_t i = 0; i < ctx.batch.seqs[s].n_tokens; ++i) seq_of[static_cast<size_t>(ctx.seq_first[s] + i)] = static_cast<int32_t>(s);
  for (size_t i = 0; i < rows.size(); ++i) {
    pos[i] = ctx.host_positions[static_cast<size_t>(rows[i])];
    seq[i] = seq_of[static_cast<size_t>(rows[i])];
  }
  const auto n = static_cast<int64_t>(rows.size());
  RowPlaces p{ctx.scratch(n), ctx.scratch(n)};
  ctx.backend.upload(p.pos, pos.data(), pos.size() * 4);
  ctx.backend.upload(p.seq, seq.data(), seq.size() * 4);
  return p;
}

}  // namespace

// Tokens `rows` of the batch attend over the latent cache directly: the key
// up-projection is folded into the query (q_nope W_uk per head) and the value
// up-projection applied to the attention output.
void MlaAttention::attend_absorbed(ForwardContext& ctx, Latent latent, const float* q, float* attn,
                                   const std::vector<int64_t>& rows) {
  kernels::Backend& b = ctx.backend;
  const int64_t n = static_cast<int64_t>(rows.size());
  const int64_t row = kv_lora_rank_ + rope_dim_;
  const int64_t qk = nope_ + rope_dim_;
  const int64_t kvb = nope_ + v_dim_;
  const bool all = n == ctx.n_tokens;
  kernels::Buffer row_idx = ctx.upload_i64(rows);
  kernels::Buffer qs = ctx.scratch(all ? 1 : n * n_heads_ * qk);  // [n, n_heads, nope + rope] (subset)
  if (!all) b.copy_rows({q, n_heads_ * qk, qs.f32(), n_heads_ * qk, n, n_heads_ * qk, row_idx.i64(), nullptr});
  const float* qsub = all ? q : qs.f32();
  kernels::Buffer ql = ctx.output(n * n_heads_ * row);  // [n, n_heads, kv_lora_rank + rope]
  std::vector<kernels::Weight> heads(static_cast<size_t>(n_heads_));
  std::vector<kernels::MatmulArgs> args(static_cast<size_t>(n_heads_));
  for (int64_t h = 0; h < n_heads_; ++h) {
    const auto i = static_cast<size_t>(h);
    heads[i] = w_uk_t_.w.slice_rows(h * kv_lora_rank_, kv_lora_rank_);  // [kv_lora_rank, nope]
    args[i] = {qsub + h * qk, n_heads_ * qk, n, &heads[i], false, nullptr, ql.f32() + h * row, n_heads_ * row};
  }
  b.matmul_batch(args.data(), args.size());
  // The rope part of every (token, head) query is attended as is: [n * n_heads] rows of qk -> of row.
  b.copy_rows({qsub + nope_, qk, ql.f32() + kv_lora_rank_, row, n * n_heads_, rope_dim_, nullptr, nullptr});
  const RowPlaces places = upload_places(ctx, rows);
  kernels::Buffer ol = ctx.output(n * n_heads_ * kv_lora_rank_);  // [n, n_heads, kv_lora_rank]
  kernels::AttentionArgs a = ctx.paged_attention();
  a.q = ql.f32();
  a.q_token_stride = n_heads_ * row;
  a.q_head_stride = row;
  a.n_tokens = n;
  a.n_heads = n_heads_;
  a.n_kv_heads = 1;
  a.qk_dim = row;
  a.v_dim = kv_lora_rank_;
  a.k_cache = a.v_cache = latent.rows;
  a.cache_dtype = latent.dtype;
  a.k_token_stride = a.v_token_stride = row;
  a.positions = places.pos.i32();
  a.tok_seq = places.seq.i32();
  a.scale = softmax_scale_;
  a.out = ol.f32();
  a.out_token_stride = n_heads_ * kv_lora_rank_;
  b.attention(a);
  kernels::Buffer os = ctx.output(all ? 1 : n * n_heads_ * v_dim_);  // [n, n_heads, v_head_dim] (subset)
  float* out = all ? attn : os.f32();
  for (int64_t h = 0; h < n_heads_; ++h) {
    const auto i = static_cast<size_t>(h);
    heads[i] = kv_b_proj_.slice_rows(h * kvb + nope_, v_dim_);  // [v_head_dim, kv_lora_rank]
    args[i] = {ol.f32() + h * kv_lora_rank_, n_heads_ * kv_lora_rank_, n, &heads[i], false, nullptr, out + h * v_dim_,
               n_heads_ * v_dim_};
  }
  b.matmul_batch(args.data(), args.size());
  if (!all) b.copy_rows({os.f32(), n_heads_ * v_dim_, attn, n_heads_ * v_dim_, n, n_heads_ * v_dim_, nullptr, row_idx.i64()});
}

}  // namespace dsinfer::model
