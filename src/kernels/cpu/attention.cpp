#include "kernels/cpu/attention.h"

#include <algorithm>
#include <cmath>
#include <vector>
#include <utility>

#include "kernels/cpu/exp_consts.h"

namespace dsinfer::kernels::cpu {

namespace {

// One (token, head) over the chunks [c0, c1) of its context.
struct ScalarPair {
  const AttentionArgs* a;
  int64_t t, h, c0, c1;
};

// The chunk's softmax numerators (relative to its max, returned with their
// sum) and their weighted sum of V rows into acc[v_dim], from zero.
template <class T>
std::pair<float, float> scalar_chunk(const ScalarPair& pr, int64_t c, std::vector<float>& w, float* acc) {
  const AttentionArgs& a = *pr.a;
  const int64_t g = pr.h / (a.n_heads / a.n_kv_heads);
  const int64_t seq = a.tok_seq[pr.t], p0 = c * kKeyChunk, p1 = std::min<int64_t>(a.positions[pr.t] + 1, p0 + kKeyChunk);
  const float* q = a.q + pr.t * a.q_token_stride + pr.h * a.q_head_stride;
  w.resize(static_cast<size_t>(p1 - p0));
  float mx = -INFINITY;
  for (int64_t p = p0; p < p1; ++p) {
    const T* k = cache_row<T>(a, a.k_cache, a.k_token_stride, seq, p) + g * a.k_head_stride;
    float s = 0.0f;
    for (int64_t i = 0; i < a.qk_dim; ++i) s = std::fma(query_value<T>(q[i]), cache_value(k[i]), s);
    w[static_cast<size_t>(p - p0)] = s * a.scale;
    mx = std::max(mx, s * a.scale);
  }
  float sum = 0.0f;
  for (float& s : w) {
    sum += (s = exp_approx(s - mx));
    s = numerator_value<T>(s);
  }
  std::fill_n(acc, a.v_dim, 0.0f);
  for (int64_t p = p0; p < p1; ++p) {
    const T* v = cache_row<T>(a, a.v_cache, a.v_token_stride, seq, p) + g * a.v_head_stride;
    for (int64_t i = 0; i < a.v_dim; ++i) acc[i] = std::fma(w[static_cast<size_t>(p - p0)], cache_value(v[i]), acc[i]);
  }
  return {mx, sum};
}

// run = run * keep + chunk * take, as every kernel folds a chunk.
void fold(float* run, const float* chunk, int64_t n, ChunkMerge f) {
  for (int64_t i = 0; i < n; ++i) run[i] = std::fma(chunk[i], f.take, run[i] * f.keep);
}

float* out_row(const AttentionArgs& a, int64_t t, int64_t h) { return a.out + t * a.out_token_stride + h * a.v_dim; }

int64_t ceil_div(int64_t x, int64_t y) { return (x + y - 1) / y; }

// (token, head) pairs per tile that read the same K/V rows: each K/V block
// loaded serves them all. With one query head per KV head (MHA, MLA's
// up-projected prefill) that takes 64 tokens; 8 left each block read from
// memory once per 8 queries, and the attention memory-bound.
constexpr int64_t kTilePairs = 64;

// Heads sharing a K/V row that keep a tile bound by its dot products.
constexpr int64_t kShareHeads = 8;

// Runs [t0, t1) of consecutive tokens of one sequence.
std::vector<std::pair<int64_t, int64_t>> sequence_runs(const AttentionArgs& a) {
  std::vector<std::pair<int64_t, int64_t>> runs;
  for (int64_t t = 0; t < a.n_tokens; ++t) {
    if (t == 0 || a.tok_seq[t] != a.tok_seq[t - 1]) runs.emplace_back(t, t);
    runs.back().second = t + 1;
  }
  return runs;
}

int64_t tile_chunks(const AttentionArgs& a, const AttentionTile& u) {
  int64_t n_ctx = 0;
  for (int64_t t = u.t0; t < u.t1; ++t) n_ctx = std::max<int64_t>(n_ctx, a.positions[t] + 1);
  return key_chunks(n_ctx);
}

// Cuts every tile of more than one chunk into tiles of one chunk (up to
// kMaxParts of them), registering a split for each: the thread pool deals
// out contiguous runs of them, so the threads get about the same number of
// chunks (a few large parts left one thread with 6 of 10 chunks).
void split_by_chunks(const AttentionArgs& a, AttentionPlan& plan) {
  constexpr int64_t kMaxParts = 64;
  std::vector<AttentionTile> tiles;
  for (const AttentionTile& u : plan.tiles) {
    const int64_t chunks = tile_chunks(a, u), n = std::min(kMaxParts, chunks);
    if (n <= 1) {
      tiles.push_back(u);
      continue;
    }
    AttentionSplit sp{u.t0, u.t1, u.h0, u.h1, chunks, plan.split_pairs, plan.partial_floats, 0};
    const int64_t pairs = (u.t1 - u.t0) * (u.h1 - u.h0);
    sp.acc_at = sp.stats_at + static_cast<size_t>(pairs * chunks * 2);
    plan.partial_floats = sp.acc_at + static_cast<size_t>(pairs * chunks * a.v_dim);
    plan.split_pairs += pairs;
    for (int64_t k = 0; k < n; ++k)
      tiles.push_back({u.t0, u.t1, u.h0, u.h1, chunks * k / n, chunks * (k + 1) / n, static_cast<int64_t>(plan.splits.size())});
    plan.splits.push_back(sp);
  }
  plan.tiles = std::move(tiles);
}

}  // namespace

void attention_scalar(const AttentionArgs& a, const AttentionTile& tile, const AttentionPartials* part) {
  const auto chunk = a.cache_dtype == DType::BF16 ? scalar_chunk<uint16_t> : scalar_chunk<float>;
  std::vector<float> w, acc(static_cast<size_t>(a.v_dim)), run(static_cast<size_t>(a.v_dim));
  int64_t pair = 0;
  for (int64_t t = tile.t0; t < tile.t1; ++t)
    for (int64_t h = tile.h0; h < tile.h1; ++h, ++pair) {
      const int64_t chunks = key_chunks(a.positions[t] + 1);
      const ScalarPair pr{&a, t, h, tile.c0, tile.c1 > 0 ? std::min(tile.c1, chunks) : chunks};
      float m = -INFINITY, l = 0.0f;
      std::fill(run.begin(), run.end(), 0.0f);
      for (int64_t c = pr.c0; c < pr.c1; ++c) {
        if (part) {
          const size_t at = static_cast<size_t>(pair * part->chunks + c);
          const auto [m_c, l_c] = chunk(pr, c, w, part->acc + at * static_cast<size_t>(a.v_dim));
          part->stats[2 * at] = m_c;
          part->stats[2 * at + 1] = l_c;
          continue;
        }
        const auto [m_c, l_c] = chunk(pr, c, w, acc.data());
        fold(run.data(), acc.data(), a.v_dim, merge_chunk(m, l, m_c, l_c));
      }
      if (part) continue;
      float* o = out_row(a, t, h);
      for (int64_t i = 0; i < a.v_dim; ++i) o[i] = run[static_cast<size_t>(i)] / l;
    }
}

// Tiles of `tokens` consecutive tokens of each run x `heads` heads of each KV head.
void add_tiles(const AttentionArgs& a, const std::vector<std::pair<int64_t, int64_t>>& runs, int64_t tokens,
               int64_t heads, AttentionPlan& plan) {
  const int64_t group = a.n_heads / a.n_kv_heads;
  for (const auto& [r0, r1] : runs)
    for (int64_t t0 = r0; t0 < r1; t0 += tokens)
      for (int64_t kv = 0; kv < a.n_kv_heads; ++kv)
        for (int64_t h0 = kv * group; h0 < (kv + 1) * group; h0 += heads)
          plan.tiles.push_back({t0, std::min(t0 + tokens, r1), h0, std::min(h0 + heads, (kv + 1) * group)});
}

// The AMX kernel's tiles: up to 8 tokens x 16 of a KV head's heads (the
// rows of its tile unit). With fewer tiles than min_tiles, each is cut by
// value columns (multiples of 32): every part takes the whole softmax and
// the sums of its own columns, so nothing is merged afterwards and each
// output is the bits of the whole tile. Chunk splits would halve the scores
// too, but their merge pass (V2-Lite decode, 640 keys: 16 x 10 x 512 partial
// sums written by one core and read by the other) took more than that saved.
AttentionPlan amx_plan(const AttentionArgs& a, const std::vector<std::pair<int64_t, int64_t>>& runs,
                       int64_t min_tiles) {
  const int64_t group = a.n_heads / a.n_kv_heads, heads = std::min<int64_t>(group, 16), tokens = 8;
  AttentionPlan plan;
  add_tiles(a, runs, tokens, heads, plan);
  const auto count = static_cast<int64_t>(plan.tiles.size());
  const int64_t blocks = a.v_dim / 32, parts = std::min(blocks, ceil_div(min_tiles, std::max<int64_t>(count, 1)));
  if (parts <= 1) return plan;
  std::vector<AttentionTile> cut;
  for (const AttentionTile& u : plan.tiles)
    for (int64_t k = 0; k < parts; ++k) {
      AttentionTile part = u;
      part.d0 = 32 * (blocks * k / parts);
      part.d1 = 32 * (blocks * (k + 1) / parts);
      cut.push_back(part);
    }
  plan.tiles = std::move(cut);
  return plan;
}

AttentionPlan attention_plan(const AttentionArgs& a, int64_t min_tiles, bool amx) {
  const int64_t group = a.n_heads / a.n_kv_heads;
  const auto runs = sequence_runs(a);
  if (amx) return amx_plan(a, runs, min_tiles);
  int64_t heads = std::min<int64_t>(group, 16), tokens = std::max<int64_t>(8, kTilePairs / heads);
  auto count = [&] {
    int64_t n = 0;
    for (const auto& [t0, t1] : runs) n += ceil_div(t1 - t0, tokens) * a.n_kv_heads * ceil_div(group, heads);
    return n;
  };
  int64_t longest = 0;
  for (int64_t t = 0; t < a.n_tokens; ++t) longest = std::max<int64_t>(longest, a.positions[t] + 1);
  // Where many heads share a K/V row (MLA's 16 over one latent row of 576
  // values) the tile is bound by its dot products, not by its rows: halving
  // the heads down to kShareHeads reads each row once per tile again but
  // needs no merge pass over partial sums, which were written by one core and
  // read by the other (V2-Lite decode: its attention calls 18% faster).
  while (count() < min_tiles && heads >= 2 * kShareHeads) heads = ceil_div(heads, 2);
  const bool by_chunks = count() < min_tiles && key_chunks(longest) > 1;
  // Halving heads further makes every tile read the K/V rows again; chunks do not.
  while (!by_chunks && count() < min_tiles && (heads > 1 || tokens > 1)) {
    if (heads > 1) {
      heads = ceil_div(heads, 2);
    } else {
      tokens = ceil_div(tokens, 2);
    }
  }
  AttentionPlan plan;
  add_tiles(a, runs, tokens, heads, plan);
  if (by_chunks) split_by_chunks(a, plan);
  return plan;
}

void attention(const AttentionArgs& a, Isa isa, const AttentionPlan& plan, float* partials, int64_t begin,
               int64_t end) {
  for (int64_t i = begin; i < end; ++i) {
    const AttentionTile& u = plan.tiles[static_cast<size_t>(i)];
    AttentionPartials part;
    if (u.split >= 0) {
      const AttentionSplit& sp = plan.splits[static_cast<size_t>(u.split)];
      part = {partials + sp.stats_at, partials + sp.acc_at, sp.chunks};
    }
    const AttentionPartials* p = u.split >= 0 ? &part : nullptr;
    if (amx_attention_fits(a, isa)) {
      attention_amx(a, u, p);
    } else if (isa >= Isa::Avx512) {
      attention_avx512(a, u, p);
    } else if (isa == Isa::Avx2) {
      attention_avx2(a, u, p);
    } else {
      attention_scalar(a, u, p);
    }
  }
}

void attention_merge(const AttentionArgs& a, Isa isa, const AttentionPlan& plan, const float* partials,
                     int64_t begin, int64_t end) {
  const auto fold_fn = isa >= Isa::Avx512 ? attention_fold_avx512 : isa == Isa::Avx2 ? attention_fold_avx2 : fold;
  std::vector<float> run(static_cast<size_t>(a.v_dim));
  auto sp = plan.splits.begin();
  for (int64_t k = begin; k < end; ++k) {
    while (k >= sp->first_pair + (sp->t1 - sp->t0) * (sp->h1 - sp->h0)) ++sp;
    const int64_t pair = k - sp->first_pair, heads = sp->h1 - sp->h0;
    const int64_t t = sp->t0 + pair / heads, h = sp->h0 + pair % heads;
    const float* stats = partials + sp->stats_at + static_cast<size_t>(2 * pair * sp->chunks);
    const float* acc = partials + sp->acc_at + static_cast<size_t>(pair * sp->chunks * a.v_dim);
    float m = -INFINITY, l = 0.0f;
    std::fill(run.begin(), run.end(), 0.0f);
    for (int64_t c = 0; c < key_chunks(a.positions[t] + 1); ++c)
      fold_fn(run.data(), acc + c * a.v_dim, a.v_dim, merge_chunk(m, l, stats[2 * c], stats[2 * c + 1]));
    float* o = out_row(a, t, h);
    for (int64_t i = 0; i < a.v_dim; ++i) o[i] = run[static_cast<size_t>(i)] / l;
  }
}

}  // namespace dsinfer::kernels::cpu
