// AMX-BF16 attention over a bf16 cache: the chunked passes of the tiled
// kernel (attention.h) with the dot products on the tile unit. A row group
// of up to 16 (token, head) pairs of one tile (the same K/V rows) is one AMX
// tile's rows or columns:
// - scores, per 16 keys: S^T [keys x pairs] = K Q^T, 32 dimensions per
//   tdpbf16ps; A is 16 K rows loaded from the cache as they lie, B the
//   queries transposed once per tile;
// - the chunk's softmax then runs with one pair per vector lane and one key
//   per vector (the same exp as every kernel);
// - values: O [pairs x v_dim] = P V; A is the numerators, rounded to bf16 and
//   transposed to [pair][key]; B interleaves the V rows of two keys
//   (vpunpck[lh]wd) and its columns come back in order as in the vdpbf16ps
//   kernel (V512Dots::unpair).
// A chunk's partials are folded as every kernel folds them (merge_chunk), so
// results depend neither on the plan's splits nor on the rest of the batch.
// They differ from the AVX-512 kernels' in how the dot products are summed;
// tests hold both to the scalar twin.
#include "kernels/cpu/intrin.h"  // first: see intrin.h
#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "kernels/cpu/amx.h"
#include "kernels/cpu/attention.h"
#include "kernels/cpu/exp_avx512.h"
#include "kernels/cpu/matmul_kernels.h"  // LineVector, round_bf16_avx512

// A superset of DSI_AMX_TARGET, so that amx.h's tile operations inline here.
#define DSI_TARGET \
  __attribute__((target("amx-tile,amx-int8,amx-bf16,avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma,f16c")))

namespace dsinfer::kernels::cpu {

namespace {

constexpr int kRows = 16;     // pairs per row group: an AMX tile's rows (or columns)
constexpr int kGroupKeys = 16;  // keys per score tile
constexpr int kHalfKeys = 32;   // keys per A tile of the value pass
constexpr int kDims = 32;       // bf16 dimensions per tile row (64 bytes)
static_assert(kKeyChunk == 2 * kHalfKeys, "a chunk's numerators are two A tiles");

// C += A B over bf16 pairs, f32 sums.
template <int C, int A, int B>
DSI_TARGET inline void dpbf16ps() {
  asm volatile("tdpbf16ps %%tmm%c2, %%tmm%c1, %%tmm%c0" ::"i"(C), "i"(A), "i"(B));
}

// r[i] = column i of the 16 x 16 matrix of 32-bit elements whose rows were r.
DSI_TARGET void transpose16(__m512i (&r)[16]) {
  __m512i t[16];
  for (int i = 0; i < 8; ++i) {
    t[2 * i] = _mm512_unpacklo_epi32(r[2 * i], r[2 * i + 1]);
    t[2 * i + 1] = _mm512_unpackhi_epi32(r[2 * i], r[2 * i + 1]);
  }
  for (int i = 0; i < 4; ++i) {  // r[4i + j]: column 4L + j of rows 4i .. 4i + 3 in lane L
    r[4 * i] = _mm512_unpacklo_epi64(t[4 * i], t[4 * i + 2]);
    r[4 * i + 1] = _mm512_unpackhi_epi64(t[4 * i], t[4 * i + 2]);
    r[4 * i + 2] = _mm512_unpacklo_epi64(t[4 * i + 1], t[4 * i + 3]);
    r[4 * i + 3] = _mm512_unpackhi_epi64(t[4 * i + 1], t[4 * i + 3]);
  }
  for (int i = 0; i < 4; ++i) {
    t[i] = _mm512_shuffle_i32x4(r[i], r[4 + i], 0x88);
    t[i + 4] = _mm512_shuffle_i32x4(r[i], r[4 + i], 0xdd);
    t[i + 8] = _mm512_shuffle_i32x4(r[8 + i], r[12 + i], 0x88);
    t[i + 12] = _mm512_shuffle_i32x4(r[8 + i], r[12 + i], 0xdd);
  }
  for (int i = 0; i < 4; ++i) {
    r[i] = _mm512_shuffle_i32x4(t[i], t[8 + i], 0x88);
    r[i + 8] = _mm512_shuffle_i32x4(t[i], t[8 + i], 0xdd);
    r[i + 4] = _mm512_shuffle_i32x4(t[4 + i], t[12 + i], 0x88);
    r[i + 12] = _mm512_shuffle_i32x4(t[4 + i], t[12 + i], 0xdd);
  }
}

// x rounded to bf16 as f32_to_bf16 rounds finite values (nearest even), in
// the low 16 bits of each lane.
DSI_TARGET inline __m512i bf16_bits(__m512 x) {
  const __m512i b = _mm512_castps_si512(x);
  const __m512i odd = _mm512_and_si512(_mm512_srli_epi32(b, 16), _mm512_set1_epi32(1));
  return _mm512_srli_epi32(_mm512_add_epi32(b, _mm512_add_epi32(odd, _mm512_set1_epi32(0x7fff))), 16);
}

struct Pair {
  const float* q;
  int64_t seq, g, n_ctx;
};

struct Scratch {
  std::vector<Pair> pairs;  // the tile's, token-major
  // [row group][qk_dim / 32][16 dimension pairs][16 pairs] (bf16 pairs): the score B tiles
  LineVector<uint32_t> qt;
  LineVector<uint16_t> qb;     // [16][qk_dim] one row group's queries in bf16
  LineVector<uint16_t> stage;  // [4 groups][16][qk_dim] K rows of groups that do not lie in one cache block
  LineVector<uint16_t> zero;   // [v_dim] the V row of the chunk's keys past the context
  LineVector<float> run;       // [pairs][v_dim] running value sums (whole tiles)
  std::vector<float> m, l;     // [pairs] running max and sum (whole tiles)
  std::vector<int32_t> n_ctx;  // [row groups * 16] context lengths, 0 past the tile's pairs
  LineVector<uint32_t> pa;     // [row group][2][16 pairs][16 key pairs] the chunk's numerators: A tiles
  std::vector<uint8_t> live;   // [row groups * 16] whether the pair has keys in the chunk
  std::vector<ChunkMerge> folds;
  std::vector<float*> dst;     // [row groups * 16] where each pair's value sums of the chunk go
  int64_t d0 = 0, d1 = 0;      // the tile's value columns
  alignas(64) float s[kKeyChunk][kRows];  // one row group's chunk scores, key-major
  alignas(64) uint32_t vb[4][kRows][kRows];  // value B tiles of 32 dimensions: [half][lo, hi] pairs of keys
  alignas(64) float c[2][kRows][kRows];      // value C tiles: lo, hi columns
  const uint16_t* k[kKeyChunk];  // K rows of the chunk's keys (null past the context)
  const uint16_t* v[kKeyChunk];  // V rows (the zero row past the context)
};

int64_t row_groups(const Scratch& s) { return (static_cast<int64_t>(s.pairs.size()) + kRows - 1) / kRows; }

// Row group r's queries as the score B tiles: for each 32 dimensions, row i
// holds every pair's dimensions (2i, 2i + 1), zero for absent pairs.
DSI_TARGET void transpose_queries(const AttentionArgs& a, Scratch& s, int64_t r) {
  const int64_t qk = a.qk_dim, blocks = qk / kDims;
  s.qb.assign(static_cast<size_t>(kRows * qk), 0);
  for (int64_t p = 0; p < kRows; ++p) {
    const int64_t i = r * kRows + p;
    if (i < static_cast<int64_t>(s.pairs.size())) round_bf16_avx512(s.pairs[static_cast<size_t>(i)].q, qk, s.qb.data() + p * qk);
  }
  uint32_t* out = s.qt.data() + r * blocks * kRows * kRows;
  for (int64_t b = 0; b < blocks; ++b) {
    __m512i rows[16];
    for (int p = 0; p < kRows; ++p) rows[p] = _mm512_loadu_si512(s.qb.data() + p * qk + b * kDims);
    transpose16(rows);
    for (int i = 0; i < kRows; ++i) _mm512_store_si512(out + (b * kRows + i) * kRows, rows[i]);
  }
}

// Points s.k and s.v at the rows of keys [p0, p0 + n) of the tile's sequence
// and KV head, one block-table lookup per cache block; past n, K rows are
// null and V rows the zero row.
void chunk_rows(const AttentionArgs& a, Scratch& s, const Pair& pr, int64_t p0, int64_t n) {
  for (int64_t p = p0; p < p0 + n;) {
    const int64_t block = a.block_tables[pr.seq * a.max_blocks + p / a.block_size], off = p % a.block_size;
    const int64_t run = std::min(a.block_size - off, p0 + n - p), slot = block * a.block_size + off;
    const auto* k = static_cast<const uint16_t*>(a.k_cache) + slot * a.k_token_stride + pr.g * a.k_head_stride;
    const auto* v = static_cast<const uint16_t*>(a.v_cache) + slot * a.v_token_stride + pr.g * a.v_head_stride;
    for (int64_t j = 0; j < run; ++j) {
      s.k[p - p0 + j] = k + j * a.k_token_stride;
      s.v[p - p0 + j] = v + j * a.v_token_stride;
    }
    p += run;
  }
  for (int64_t j = n; j < kKeyChunk; ++j) {
    s.k[j] = nullptr;
    s.v[j] = s.zero.data();
  }
}

// Where group g's 16 K rows are read from (and their stride in bytes): in
// place when they lie in one cache block, else copied into the group's part
// of s.stage (rows past the context left zero).
struct KeyRows {
  const uint16_t* at;
  int64_t stride;
};
KeyRows key_rows(const AttentionArgs& a, Scratch& s, int64_t p0, int64_t g, int64_t n) {
  const int64_t first = p0 + g * kGroupKeys;
  if (first % a.block_size + kGroupKeys <= a.block_size) return {s.k[g * kGroupKeys], a.k_token_stride * 2};
  uint16_t* stage = s.stage.data() + g * kGroupKeys * a.qk_dim;
  std::fill_n(stage, kGroupKeys * a.qk_dim, uint16_t{0});
  for (int64_t j = 0; j < kGroupKeys && g * kGroupKeys + j < n; ++j)
    std::memcpy(stage + j * a.qk_dim, s.k[g * kGroupKeys + j], static_cast<size_t>(a.qk_dim) * 2);
  return {stage, a.qk_dim * 2};
}

// s.s[key][pair] = scale * q . k for row group r over the chunk's n keys (at
// least one): C tiles 0..3 for the 4 groups of 16 keys, B (the queries) in
// 4, A (K rows) in 5..7 and 4's turn in 5.
DSI_TARGET void chunk_scores(const AttentionArgs& a, Scratch& s, int64_t r, int64_t p0, int64_t n) {
  const int64_t blocks = a.qk_dim / kDims, groups = (n + kGroupKeys - 1) / kGroupKeys;
  KeyRows kr[4];
  for (int64_t g = 0; g < groups; ++g) kr[g] = key_rows(a, s, p0, g, n);
  amx::zero<0>();
  amx::zero<1>();
  amx::zero<2>();
  amx::zero<3>();
  const uint32_t* qt = s.qt.data() + r * blocks * kRows * kRows;
  for (int64_t b = 0; b < blocks; ++b) {
    amx::load<4>(qt + b * kRows * kRows, 64);
    amx::load<5>(kr[0].at + b * kDims, kr[0].stride);
    dpbf16ps<0, 5, 4>();
    if (groups > 1) {
      amx::load<6>(kr[1].at + b * kDims, kr[1].stride);
      dpbf16ps<1, 6, 4>();
    }
    if (groups > 2) {
      amx::load<7>(kr[2].at + b * kDims, kr[2].stride);
      dpbf16ps<2, 7, 4>();
    }
    if (groups > 3) {
      amx::load<5>(kr[3].at + b * kDims, kr[3].stride);
      dpbf16ps<3, 5, 4>();
    }
  }
  amx::store<0>(s.s[0], 64);
  if (groups > 1) amx::store<1>(s.s[16], 64);
  if (groups > 2) amx::store<2>(s.s[32], 64);
  if (groups > 3) amx::store<3>(s.s[48], 64);
}

// Per pair of row group r, the chunk's max and sum of the numerators (-inf
// and 0 for pairs without keys in it).
struct ChunkStats {
  alignas(64) float m[kRows];
  alignas(64) float l[kRows];
};

// The chunk's softmax for row group r, a pair per lane: the max over each
// pair's keys in it (those below its context), the numerators exp(s - max)
// summed as they are and, rounded to bf16, written as the value pass's A
// tiles ([pair][key], 32 keys each) of the row group.
DSI_TARGET void chunk_softmax(const AttentionArgs& a, Scratch& s, int64_t r, int64_t p0, int64_t n, ChunkStats& st) {
  const __m512i ctx = _mm512_loadu_si512(s.n_ctx.data() + r * kRows);
  const __m512 scale = _mm512_set1_ps(a.scale);
  __m512 mx = _mm512_set1_ps(-INFINITY);
  for (int64_t j = 0; j < n; ++j) {
    const __mmask16 k = _mm512_cmpgt_epi32_mask(ctx, _mm512_set1_epi32(static_cast<int>(p0 + j)));
    const __m512 x = _mm512_mul_ps(_mm512_load_ps(s.s[j]), scale);
    _mm512_store_ps(s.s[j], x);
    mx = _mm512_mask_max_ps(mx, k, mx, x);
  }
  __m512 sum = _mm512_setzero_ps();
  __m512i w[2][16];  // [half][key pair]: every pair's numerators of keys (2i, 2i + 1) as bf16
  for (int64_t j = 0; j < kKeyChunk; j += 2) {
    __m512i e2[2];
    for (int64_t h = 0; h < 2; ++h) {
      if (j + h >= n) {
        e2[h] = _mm512_setzero_si512();
        continue;
      }
      const __mmask16 k = _mm512_cmpgt_epi32_mask(ctx, _mm512_set1_epi32(static_cast<int>(p0 + j + h)));
      const __m512 e = _mm512_maskz_mov_ps(k, exp16(_mm512_sub_ps(_mm512_load_ps(s.s[j + h]), mx)));
      sum = _mm512_add_ps(sum, e);
      e2[h] = bf16_bits(e);
    }
    w[j / kHalfKeys][(j % kHalfKeys) / 2] = _mm512_or_si512(e2[0], _mm512_slli_epi32(e2[1], 16));
  }
  uint32_t* pa = s.pa.data() + r * 2 * kRows * kRows;
  for (int h = 0; h < 2; ++h) {
    transpose16(w[h]);
    for (int p = 0; p < kRows; ++p) _mm512_store_si512(pa + (h * kRows + p) * kRows, w[h][p]);
  }
  _mm512_store_ps(st.m, mx);
  _mm512_store_ps(st.l, sum);
}

// A row group's value sums of 32 dimensions (C tiles in s.c, columns paired
// as the B tiles interleave them) in column order, stored at each live
// pair's destination or folded into its running sums there.
DSI_TARGET void put_values(Scratch& s, int64_t r, int64_t c0, bool folding) {
  const __m512i i0 = _mm512_setr_epi32(0, 1, 2, 3, 16, 17, 18, 19, 4, 5, 6, 7, 20, 21, 22, 23);
  const __m512i i1 = _mm512_setr_epi32(8, 9, 10, 11, 24, 25, 26, 27, 12, 13, 14, 15, 28, 29, 30, 31);
  for (int p = 0; p < kRows; ++p) {
    const size_t i = static_cast<size_t>(r * kRows + p);
    if (!s.live[i]) continue;
    const __m512 lo = _mm512_load_ps(s.c[0][p]), hi = _mm512_load_ps(s.c[1][p]);
    const __m512 cols[2] = {_mm512_permutex2var_ps(lo, i0, hi), _mm512_permutex2var_ps(lo, i1, hi)};
    float* d = s.dst[i] + c0;
    for (int h = 0; h < 2; ++h) {
      if (folding) {
        const __m512 run = _mm512_mul_ps(_mm512_loadu_ps(d + 16 * h), _mm512_set1_ps(s.folds[i].keep));
        _mm512_storeu_ps(d + 16 * h, _mm512_fmadd_ps(cols[h], _mm512_set1_ps(s.folds[i].take), run));
      } else {
        _mm512_storeu_ps(d + 16 * h, cols[h]);
      }
    }
  }
}

// The value pass of a chunk of n keys for every row group, over the tile's
// value columns 32 at a time: B tiles 4, 5 (keys 0..31: the lo and hi columns) and 6, 7 (keys
// 32..63) built once for all groups, A tiles 2, 3, C tiles 0, 1.
DSI_TARGET void chunk_values(Scratch& s, int64_t n, bool folding) {
  const int halves = n > kHalfKeys ? 2 : 1;
  for (int64_t c0 = s.d0; c0 < s.d1; c0 += kDims) {
    for (int h = 0; h < halves; ++h)
      for (int i = 0; i < kRows; ++i) {
        const __m512i x = _mm512_loadu_si512(s.v[h * kHalfKeys + 2 * i] + c0);
        const __m512i y = _mm512_loadu_si512(s.v[h * kHalfKeys + 2 * i + 1] + c0);
        _mm512_store_si512(s.vb[2 * h][i], _mm512_unpacklo_epi16(x, y));
        _mm512_store_si512(s.vb[2 * h + 1][i], _mm512_unpackhi_epi16(x, y));
      }
    amx::load<4>(s.vb[0], 64);
    amx::load<5>(s.vb[1], 64);
    if (halves > 1) {
      amx::load<6>(s.vb[2], 64);
      amx::load<7>(s.vb[3], 64);
    }
    for (int64_t r = 0; r < row_groups(s); ++r) {
      const uint32_t* pa = s.pa.data() + r * 2 * kRows * kRows;
      amx::zero<0>();
      amx::zero<1>();
      amx::load<2>(pa, 64);
      dpbf16ps<0, 2, 4>();
      dpbf16ps<1, 2, 5>();
      if (halves > 1) {
        amx::load<3>(pa + kRows * kRows, 64);
        dpbf16ps<0, 3, 6>();
        dpbf16ps<1, 3, 7>();
      }
      amx::store<0>(s.c[0], 64);
      amx::store<1>(s.c[1], 64);
      put_values(s, r, c0, folding);
    }
  }
}

// The tile's pairs, their row groups' query tiles and the scratch sizes.
DSI_TARGET int64_t start_tile(const AttentionArgs& a, const AttentionTile& u, Scratch& s) {
  const int64_t group = a.n_heads / a.n_kv_heads;
  s.pairs.clear();
  int64_t max_ctx = 0;
  for (int64_t t = u.t0; t < u.t1; ++t)
    for (int64_t h = u.h0; h < u.h1; ++h) {
      s.pairs.push_back({a.q + t * a.q_token_stride + h * a.q_head_stride, a.tok_seq[t], h / group, a.positions[t] + 1});
      max_ctx = std::max(max_ctx, a.positions[t] + int64_t{1});
    }
  s.d0 = u.d0;
  s.d1 = u.d1 > 0 ? u.d1 : a.v_dim;
  const int64_t groups = row_groups(s), slots = groups * kRows;
  s.n_ctx.assign(static_cast<size_t>(slots), 0);
  for (size_t i = 0; i < s.pairs.size(); ++i) s.n_ctx[i] = static_cast<int32_t>(s.pairs[i].n_ctx);
  s.qt.resize(static_cast<size_t>(groups * (a.qk_dim / kDims) * kRows * kRows));
  for (int64_t r = 0; r < groups; ++r) transpose_queries(a, s, r);
  s.stage.resize(static_cast<size_t>(4 * kGroupKeys * a.qk_dim));
  if (static_cast<int64_t>(s.zero.size()) < a.v_dim) s.zero.assign(static_cast<size_t>(a.v_dim), 0);
  s.pa.resize(static_cast<size_t>(groups * 2 * kRows * kRows));
  s.live.assign(static_cast<size_t>(slots), 0);
  s.dst.assign(static_cast<size_t>(slots), nullptr);
  s.folds.resize(static_cast<size_t>(slots));
  return max_ctx;
}

// Records row group r's chunk statistics: folded into the running max and
// sum (whole tiles: merge_chunk's operations, a pair per lane) or written to
// the partials; points each live pair's dst at where its value sums go.
DSI_TARGET void chunk_stats(const AttentionArgs& a, Scratch& s, int64_t r, int64_t c, const ChunkStats& st,
                            const AttentionPartials* part) {
  const auto first = static_cast<size_t>(r * kRows);
  const int64_t live = std::min<int64_t>(kRows, static_cast<int64_t>(s.pairs.size()) - r * kRows);
  for (int64_t p = 0; p < kRows; ++p) s.live[first + p] = p < live && s.n_ctx[first + p] > c * kKeyChunk;
  if (!part) {
    const __mmask16 k = static_cast<__mmask16>((1u << live) - 1);
    const __m512 m = _mm512_maskz_loadu_ps(k, s.m.data() + first), l = _mm512_maskz_loadu_ps(k, s.l.data() + first);
    const __m512 mc = _mm512_load_ps(st.m), m_new = _mm512_max_ps(m, mc);
    const __m512 keep = exp16(_mm512_sub_ps(m, m_new)), take = exp16(_mm512_sub_ps(mc, m_new));
    alignas(64) float kf[kRows], tf[kRows];
    _mm512_store_ps(kf, keep);
    _mm512_store_ps(tf, take);
    const __mmask16 on = _mm512_cmpgt_epi32_mask(_mm512_loadu_si512(s.n_ctx.data() + first),
                                                 _mm512_set1_epi32(static_cast<int>(c * kKeyChunk)));
    _mm512_mask_storeu_ps(s.m.data() + first, on & k, m_new);
    _mm512_mask_storeu_ps(s.l.data() + first, on & k, _mm512_fmadd_ps(_mm512_load_ps(st.l), take, _mm512_mul_ps(l, keep)));
    for (int64_t p = 0; p < live; ++p) s.folds[first + p] = {kf[p], tf[p]};
  }
  for (int64_t p = 0; p < live; ++p) {
    const size_t i = first + static_cast<size_t>(p);
    if (!s.live[i]) continue;
    if (part) {
      const size_t at = i * static_cast<size_t>(part->chunks) + static_cast<size_t>(c);
      part->stats[2 * at] = st.m[p];
      part->stats[2 * at + 1] = st.l[p];
      s.dst[i] = part->acc + at * static_cast<size_t>(a.v_dim);
    } else {
      s.dst[i] = s.run.data() + i * static_cast<size_t>(a.v_dim);
    }
  }
}

}  // namespace

bool amx_attention_fits(const AttentionArgs& a, Isa isa) {
  return isa >= Isa::Amx && a.cache_dtype == DType::BF16 && a.qk_dim % kDims == 0 && a.v_dim % kDims == 0 &&
         has_amx_bf16();
}

DSI_TARGET void attention_amx(const AttentionArgs& a, const AttentionTile& u, const AttentionPartials* part) {
  thread_local Scratch s;
  const int64_t max_ctx = start_tile(a, u, s);
  const auto pairs = s.pairs.size();
  if (!part) {
    s.run.assign(pairs * static_cast<size_t>(a.v_dim), 0.0f);
    s.m.assign(pairs, -INFINITY);
    s.l.assign(pairs, 0.0f);
  }
  amx::configure();
  const int64_t c1 = u.c1 > 0 ? std::min(u.c1, key_chunks(max_ctx)) : key_chunks(max_ctx);
  for (int64_t c = u.c0; c < c1; ++c) {
    const int64_t p0 = c * kKeyChunk, n = std::min(kKeyChunk, max_ctx - p0);
    chunk_rows(a, s, s.pairs[0], p0, n);
    for (int64_t r = 0; r < row_groups(s); ++r) {
      ChunkStats st;
      chunk_scores(a, s, r, p0, n);
      chunk_softmax(a, s, r, p0, n, st);
      chunk_stats(a, s, r, c, st, part);
    }
    chunk_values(s, n, part == nullptr);
  }
  if (part) return;
  for (size_t i = 0; i < pairs; ++i) {
    const int64_t t = u.t0 + static_cast<int64_t>(i) / (u.h1 - u.h0), h = u.h0 + static_cast<int64_t>(i) % (u.h1 - u.h0);
    float* o = a.out + t * a.out_token_stride + h * a.v_dim;
    const float* run = s.run.data() + i * static_cast<size_t>(a.v_dim);
    const __m512 l = _mm512_set1_ps(s.l[i]);
    for (int64_t c = s.d0; c < s.d1; c += 16) _mm512_storeu_ps(o + c, _mm512_div_ps(_mm512_loadu_ps(run + c), l));
  }
}

}  // namespace dsinfer::kernels::cpu
