// Paged causal attention on every backend against the reference backend, and
// the reference against a naive softmax(q k^T * scale) v computed here from the
// documented cache addressing.
//
// The caches are paged with block sizes 3 and 5, block tables are shuffled
// (a sequence's blocks are scattered and out of order in the pool), several
// sequences of different lengths are served in one call with their query
// tokens interleaved, and every cache slot a query may not see (other
// sequences, later positions, unused blocks) holds random data, so attending
// to the wrong slot changes the output. Head layouts: GQA 8:2 (4 query heads
// per KV head), plain MHA, and MLA's absorbed form (n_kv_heads = 1, one cache
// serving as K and V, v_dim < qk_dim). Every case runs over a float32 cache
// and over a bf16 one; for the latter the K/V values are drawn already
// rounded to bf16, so the naive and reference computations see exactly the
// values the kernels widen from the cache.
//
// Tolerances: the reference computes in double, so against the naive double
// computation only the final cast to float differs (2^-24 |o|): we allow
// 2e-7 (1 + |o|). A float kernel's scores carry an error of about
// sqrt(qk_dim) 2^-24 |q||k| scale, which moves the softmax weights by the same
// relative amount; outputs are convex combinations of V values in [-1, 1], so
// we allow 1e-6 sqrt(qk_dim) (1 + |o|) against the reference. Over a bf16
// cache the CPU kernels weight the V rows by bf16-rounded numerators
// (AttentionArgs): each weight w_p is off by at most 2^-9 of itself, so an
// output by at most 2^-9 sum_p w_p |v_p| (the column's "mass", computed here
// with the naive weights), which we allow twice over on top.
#include "kernels/cpu/intrin.h"  // first: see intrin.h
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <numeric>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "kernels/backend.h"
#include "kernels/cpu/attention.h"
#include "kernels/cpu/exp_avx2.h"
#include "kernels/cpu/exp_avx512.h"
#include "kernels/cpu/reduce_avx512.h"
#include "kernels/cpu/isa.h"
#include "kernels/kernel_test_util.h"

namespace dsinfer::test {
namespace {

using kernels::AttentionArgs;
using kernels::Backend;

constexpr float kSentinel = 4242.0f;

struct AttnCase {
  std::string name;
  int64_t n_heads, n_kv_heads, qk_dim, v_dim, block_size;
  bool mla;  // one cache for K and V (n_kv_heads = 1)
  float scale;
  std::vector<int32_t> seq_lens;                     // context length of each sequence
  std::vector<std::pair<int32_t, int32_t>> queries;  // (sequence, position) of each new token
};

// All host-side data of one attention call, with strides and block tables.
struct AttnData {
  AttnCase c;
  int64_t q_head_stride, q_token_stride;
  int64_t k_head_stride, k_token_stride, v_head_stride, v_token_stride;
  int64_t out_token_stride;
  int64_t n_slots, max_blocks;
  std::vector<float> q, k, v;  // v empty for MLA (v_cache == k_cache)
  bool bf16 = false;           // the caches hold k and v as bf16 (values already representable)
  std::vector<int32_t> positions, tok_seq, block_tables;

  int64_t n_tokens() const { return static_cast<int64_t>(c.queries.size()); }
  int64_t slot(int64_t seq, int64_t pos) const {
    return static_cast<int64_t>(block_tables[static_cast<size_t>(seq * max_blocks + pos / c.block_size)]) *
               c.block_size +
           pos % c.block_size;
  }
  const std::vector<float>& vcache() const { return c.mla ? k : v; }
};

// Every value rounded to bf16 (so that a bf16 cache holds it exactly).
void round_to_bf16(std::vector<float>& x) {
  for (float& f : x) f = bf16_to_f32(f32_to_bf16(f));
}

std::vector<uint16_t> bf16_words(const std::vector<float>& x) {
  std::vector<uint16_t> h(x.size());
  for (size_t i = 0; i < x.size(); ++i) h[i] = f32_to_bf16(x[i]);
  return h;
}

AttnData make_data(const AttnCase& c, uint32_t seed, bool bf16 = false) {
  std::mt19937 rng(seed);
  AttnData d;
  d.c = c;
  d.bf16 = bf16;
  d.q_head_stride = c.mla ? c.qk_dim : c.qk_dim + 2;
  d.q_token_stride = c.n_heads * d.q_head_stride + 1;
  if (c.mla) {
    d.k_head_stride = d.v_head_stride = 0;
    d.k_token_stride = d.v_token_stride = c.qk_dim + 2;
  } else {
    d.k_head_stride = c.qk_dim + 1;
    d.k_token_stride = c.n_kv_heads * d.k_head_stride + 3;
    d.v_head_stride = c.v_dim + 2;
    d.v_token_stride = c.n_kv_heads * d.v_head_stride + 1;
  }
  d.out_token_stride = c.n_heads * c.v_dim + 3;

  // Block pool: every sequence's blocks plus spares, handed out in a shuffled order.
  const int64_t n_seqs = static_cast<int64_t>(c.seq_lens.size());
  int64_t needed = 0;
  d.max_blocks = 0;
  for (int32_t len : c.seq_lens) {
    const int64_t nb = (len + c.block_size - 1) / c.block_size;
    needed += nb;
    d.max_blocks = std::max(d.max_blocks, nb);
  }
  d.max_blocks += 1;  // an unused trailing entry in every row
  const int64_t pool = needed + 3;
  std::vector<int32_t> perm(static_cast<size_t>(pool));
  std::iota(perm.begin(), perm.end(), 0);
  std::shuffle(perm.begin(), perm.end(), rng);
  d.block_tables.assign(static_cast<size_t>(n_seqs * d.max_blocks), 0);
  size_t next = 0;
  for (int64_t s = 0; s < n_seqs; ++s) {
    const int64_t nb = (c.seq_lens[static_cast<size_t>(s)] + c.block_size - 1) / c.block_size;
    for (int64_t b = 0; b < nb; ++b) d.block_tables[static_cast<size_t>(s * d.max_blocks + b)] = perm[next++];
  }
  d.n_slots = pool * c.block_size;

  // Caches: random everywhere, including slots no query may read.
  d.k = random_floats(rng, static_cast<size_t>(d.n_slots * d.k_token_stride));
  if (!c.mla) d.v = random_floats(rng, static_cast<size_t>(d.n_slots * d.v_token_stride));
  if (bf16) {
    round_to_bf16(d.k);
    round_to_bf16(d.v);
  }
  d.q = random_floats(rng, static_cast<size_t>(d.n_tokens() * d.q_token_stride), -2.0f, 2.0f);
  for (const auto& [s, p] : c.queries) {
    d.tok_seq.push_back(s);
    d.positions.push_back(p);
  }
  return d;
}

// The call's arguments but for where its buffers are.
AttentionArgs shape_args(const AttnData& d) {
  AttentionArgs a;
  a.q_token_stride = d.q_token_stride;
  a.q_head_stride = d.q_head_stride;
  a.n_tokens = d.n_tokens();
  a.n_heads = d.c.n_heads;
  a.n_kv_heads = d.c.n_kv_heads;
  a.qk_dim = d.c.qk_dim;
  a.v_dim = d.c.v_dim;
  a.cache_dtype = d.bf16 ? DType::BF16 : DType::F32;
  a.k_token_stride = d.k_token_stride;
  a.v_token_stride = d.v_token_stride;
  a.k_head_stride = d.k_head_stride;
  a.v_head_stride = d.v_head_stride;
  a.block_size = d.c.block_size;
  a.max_blocks = d.max_blocks;
  a.scale = d.c.scale;
  a.out_token_stride = d.out_token_stride;
  return a;
}

// Runs attention on `be`; returns the whole out buffer [n_tokens, out_token_stride].
std::vector<float> run_attention(Backend& be, const AttnData& d) {
  const auto q = to_device(be, d.q);
  const auto k = d.bf16 ? to_device(be, bf16_words(d.k)) : to_device(be, d.k);
  kernels::Buffer v;
  if (!d.c.mla) v = d.bf16 ? to_device(be, bf16_words(d.v)) : to_device(be, d.v);
  const auto pos = to_device(be, d.positions);
  const auto seq = to_device(be, d.tok_seq);
  const auto bt = to_device(be, d.block_tables);
  const size_t out_n = static_cast<size_t>(d.n_tokens() * d.out_token_stride);
  const auto out = to_device(be, std::vector<float>(out_n, kSentinel));
  AttentionArgs a = shape_args(d);
  a.q = q.f32();
  a.k_cache = k.data();
  a.v_cache = d.c.mla ? k.data() : v.data();
  a.positions = pos.i32();
  a.tok_seq = seq.i32();
  a.block_tables = bt.i32();
  a.out = out.f32();
  be.attention(a);
  return from_device<float>(be, out, out_n);
}

// Naive attention of one (token, head): scores over keys 0..pos, softmax,
// weighted V; with `mass`, also sum_p w_p |v_p| per column.
std::vector<double> naive_head(const AttnData& d, int64_t t, int64_t h, std::vector<double>* mass = nullptr) {
  const auto& c = d.c;
  const int64_t g = h / (c.n_heads / c.n_kv_heads);
  const int64_t s = d.tok_seq[static_cast<size_t>(t)];
  const int64_t n_ctx = d.positions[static_cast<size_t>(t)] + 1;
  const float* q = d.q.data() + t * d.q_token_stride + h * d.q_head_stride;
  // Over a bf16 cache the scores take the query rounded to bf16 (AttentionArgs).
  const auto qv = [&](int64_t i) { return d.bf16 ? static_cast<double>(bf16_to_f32(f32_to_bf16(q[i]))) : q[i]; };
  std::vector<double> score(static_cast<size_t>(n_ctx));
  for (int64_t p = 0; p < n_ctx; ++p) {
    const float* k = d.k.data() + d.slot(s, p) * d.k_token_stride + g * d.k_head_stride;
    double dot = 0;
    for (int64_t i = 0; i < c.qk_dim; ++i) dot += qv(i) * k[i];
    score[static_cast<size_t>(p)] = dot * c.scale;
  }
  const double mx = *std::max_element(score.begin(), score.end());
  double z = 0;
  for (double sc : score) z += std::exp(sc - mx);
  std::vector<double> o(static_cast<size_t>(c.v_dim), 0.0);
  if (mass) mass->assign(static_cast<size_t>(c.v_dim), 0.0);
  for (int64_t p = 0; p < n_ctx; ++p) {
    const double w = std::exp(score[static_cast<size_t>(p)] - mx) / z;
    const float* v = d.vcache().data() + d.slot(s, p) * d.v_token_stride + g * d.v_head_stride;
    for (int64_t i = 0; i < c.v_dim; ++i) {
      o[static_cast<size_t>(i)] += w * v[i];
      if (mass) (*mass)[static_cast<size_t>(i)] += w * std::fabs(v[i]);
    }
  }
  return o;
}

// Tolerances for outputs `want` (as outputs() orders them) of data d: the
// float kernels' 1e-6 sqrt(qk_dim) (1 + |o|), and over a bf16 cache the
// rounded numerators' 2^-8 mass (see the top of this file).
std::vector<double> kernel_tolerance(const AttnData& d, const std::vector<float>& want) {
  const double base = 1e-6 * std::sqrt(static_cast<double>(d.c.qk_dim));
  std::vector<double> tol;
  std::vector<double> mass;
  for (int64_t t = 0; t < d.n_tokens(); ++t)
    for (int64_t h = 0; h < d.c.n_heads; ++h) {
      if (d.bf16) naive_head(d, t, h, &mass);
      for (int64_t i = 0; i < d.c.v_dim; ++i) {
        const double w = want[tol.size()];
        tol.push_back(base * (1 + std::fabs(w)) + (d.bf16 ? std::ldexp(mass[static_cast<size_t>(i)], -8) : 0.0));
      }
    }
  return tol;
}

// The outputs [n_tokens, n_heads * v_dim] of a whole out buffer; the padding must hold the sentinel.
std::vector<float> outputs(const AttnData& d, const std::vector<float>& out) {
  std::vector<float> o;
  const int64_t width = d.c.n_heads * d.c.v_dim;
  for (int64_t t = 0; t < d.n_tokens(); ++t) {
    for (int64_t i = 0; i < width; ++i) o.push_back(out[static_cast<size_t>(t * d.out_token_stride + i)]);
    for (int64_t i = width; i < d.out_token_stride; ++i)
      EXPECT_EQ(out[static_cast<size_t>(t * d.out_token_stride + i)], kSentinel) << "padding of token " << t;
  }
  return o;
}

std::vector<AttnCase> attn_cases() {
  // Queries interleave sequences: a prefill chunk, a first token, a decode step and a full prefill.
  const std::vector<int32_t> lens = {11, 1, 17, 6};
  std::vector<std::pair<int32_t, int32_t>> qs = {{0, 8}, {2, 16}, {3, 0}, {0, 9}, {1, 0}, {3, 1}, {3, 2},
                                                 {0, 10}, {3, 3}, {3, 4}, {3, 5}};
  return {
      {"gqa4to1_bs3", 8, 2, 20, 20, 3, false, 1.0f / std::sqrt(20.0f), lens, qs},
      {"gqa4to1_bs5_vdim_differs", 8, 2, 13, 7, 5, false, 0.3f, lens, qs},
      {"mha_bs3", 3, 3, 33, 33, 3, false, 1.0f / std::sqrt(33.0f), lens, qs},
      {"mla_bs5", 5, 1, 24, 16, 5, true, 0.37f, lens, qs},
      {"mla_bs3_one_seq", 7, 1, 67, 13, 3, true, 0.15f, {29}, {{0, 28}, {0, 0}, {0, 14}}},
      // Long rows for the SIMD kernels: key blocks of 8 with a tail, score rows
      // past 16 with a tail, V wider than one 128-value pass, dims not multiples of 16.
      {"gqa6to1_long_bs16", 12, 2, 128, 128, 16, false, 1.0f / std::sqrt(128.0f), {300, 45},
       {{0, 299}, {1, 44}, {0, 150}, {1, 7}, {0, 16}}},
      {"mla_wide_bs7", 3, 1, 200, 136, 7, true, 0.05f, {90}, {{0, 89}, {0, 33}, {0, 0}}},
      // Dims the AMX kernel takes (multiples of 32): more heads than a tile's
      // 16 rows, K rows across cache blocks (staged), contexts ending inside a
      // chunk's groups of 16 keys; and 3 heads per KV head over blocks of 16.
      {"mla_amx_20heads_bs5", 20, 1, 96, 64, 5, true, 0.1f, {150, 70},
       {{0, 149}, {1, 69}, {0, 70}, {0, 0}, {1, 5}, {0, 64}, {0, 63}, {1, 0}, {0, 127}}},
      {"gqa3to1_amx_bs16", 6, 2, 64, 64, 16, false, 0.2f, {200, 33}, {{0, 199}, {1, 32}, {0, 128}, {0, 17}, {1, 16}}},
  };
}

TEST(AttentionReferenceTest, MatchesNaiveSoftmax) {
  auto ref = make_reference();
  uint32_t seed = 1;
  for (const AttnCase& c : attn_cases())
    for (bool bf16 : {false, true}) {
    SCOPED_TRACE(c.name + (bf16 ? " bf16 cache" : " f32 cache"));
    const AttnData d = make_data(c, seed++, bf16);
    const auto got = outputs(d, run_attention(*ref, d));
    std::vector<double> want, tol;
    for (int64_t t = 0; t < d.n_tokens(); ++t)
      for (int64_t h = 0; h < c.n_heads; ++h)
        for (double v : naive_head(d, t, h)) {
          want.push_back(v);
          tol.push_back(2e-7 * (1 + std::fabs(v)));
        }
    EXPECT_TRUE(all_close(got, want, tol));
  }
}

// Two keys whose scaled scores are 0 and ln 3: weights 1/4 and 3/4, by hand.
TEST(AttentionReferenceTest, TwoKeysByHand) {
  for (const BackendCase& bc : all_backends()) {
    auto be = make_or_null(bc);
    if (!be) continue;  // SIMD level not available here
    SCOPED_TRACE(bc.name + " " + bc.isa + " threads " + std::to_string(bc.threads));
    // One head, qk_dim 2, v_dim 2, block size 1, blocks in reverse order.
    const std::vector<float> q = {1.0f, 0.0f};
    const std::vector<float> k = {/*slot 0 = pos 1*/ std::log(3.0f) / 0.5f, 7.0f, /*slot 1 = pos 0*/ 0.0f, -5.0f};
    const std::vector<float> v = {/*pos 1*/ 4.0f, -8.0f, /*pos 0*/ 100.0f, 20.0f};
    const std::vector<int32_t> pos = {1}, seq = {0}, bt = {1, 0};
    const auto qd = to_device(*be, q), kd = to_device(*be, k), vd = to_device(*be, v);
    const auto pd = to_device(*be, pos), sd = to_device(*be, seq), btd = to_device(*be, bt);
    const auto od = be->alloc(2 * sizeof(float));
    AttentionArgs a;
    a.q = qd.f32();
    a.q_token_stride = 2;
    a.q_head_stride = 2;
    a.n_tokens = 1;
    a.n_heads = 1;
    a.n_kv_heads = 1;
    a.qk_dim = 2;
    a.v_dim = 2;
    a.k_cache = kd.f32();
    a.v_cache = vd.f32();
    a.k_token_stride = 2;
    a.v_token_stride = 2;
    a.block_size = 1;
    a.positions = pd.i32();
    a.tok_seq = sd.i32();
    a.block_tables = btd.i32();
    a.max_blocks = 2;
    a.scale = 0.5f;
    a.out = od.f32();
    a.out_token_stride = 2;
    be->attention(a);
    const auto o = from_device<float>(*be, od, 2);
    EXPECT_NEAR(o[0], 0.25 * 100 + 0.75 * 4, 1e-5);
    EXPECT_NEAR(o[1], 0.25 * 20 + 0.75 * -8, 1e-5);
  }
}

// The softmax's exp (shared by the CPU kernels' scalar and SIMD paths) against libm.
TEST(AttentionExp, CloseToLibmOverTheSoftmaxRange) {
  double worst = 0;
  for (float x = -103.0f; x <= 0.0f; x += 0.0137f) {
    const double want = std::exp(static_cast<double>(x));
    if (want < 1e-37) continue;  // denormal results carry fewer bits
    worst = std::max(worst, std::fabs(kernels::cpu::exp_approx(x) - want) / want);
  }
  EXPECT_LT(worst, 3e-7);  // about 2 ulp
  EXPECT_EQ(kernels::cpu::exp_approx(0.0f), 1.0f);  // a lone key gets weight exactly 1
  EXPECT_EQ(kernels::cpu::exp_approx(-500.0f), 0.0f);
  EXPECT_EQ(kernels::cpu::exp_approx(-INFINITY), 0.0f);
  EXPECT_TRUE(std::isnan(kernels::cpu::exp_approx(NAN)));
}

__attribute__((target("avx512f,avx512bw,avx512vl,avx2,fma"))) void exp_avx512_of(const float* x, float* y) {
  _mm512_storeu_ps(y, kernels::cpu::exp16(_mm512_loadu_ps(x)));
}

__attribute__((target("avx2,fma"))) void exp_avx2_of(const float* x, float* y) {
  _mm256_storeu_ps(y, kernels::cpu::exp8(_mm256_loadu_ps(x)));
}

// exp16 and exp8 (the softmax and silu exp of the SIMD kernels) equal
// exp_approx bit for bit: over the whole finite range in steps that hit
// every binade, through denormal results, overflow and the edges.
TEST(AttentionExp, SimdTwinsAgreeBitForBit) {
  std::vector<float> xs = {0.0f, -0.0f, -104.0f, -103.99f, -87.5f, -87.3f, 88.7f, 88.8f, 89.0f, 1e-30f, -1e-30f, -INFINITY, NAN};
  for (float x = -110.0f; x <= 90.0f; x += 0.01173f) xs.push_back(x);
  while (xs.size() % 16) xs.push_back(0.5f);
  using kernels::cpu::Isa;
  if (!kernels::cpu::isa_supported(Isa::Avx2)) GTEST_SKIP() << "no AVX2 on this CPU: SKIPPED";
  for (Isa isa : {Isa::Avx2, Isa::Avx512}) {
    if (!kernels::cpu::isa_supported(isa)) {
      std::printf("[  SKIPPED ] exp twin for %s: not on this CPU\n", std::string(kernels::cpu::isa_name(isa)).c_str());
      continue;
    }
    std::vector<float> y(xs.size());
    for (size_t i = 0; i < xs.size(); i += isa == Isa::Avx512 ? 16 : 8)
      isa == Isa::Avx512 ? exp_avx512_of(&xs[i], &y[i]) : exp_avx2_of(&xs[i], &y[i]);
    int bad = 0;
    for (size_t i = 0; i < xs.size(); ++i) {
      const float want = kernels::cpu::exp_approx(xs[i]);
      const bool same = std::isnan(want) ? std::isnan(y[i]) : std::memcmp(&want, &y[i], 4) == 0;
      if (!same && bad++ < 5) ADD_FAILURE() << kernels::cpu::isa_name(isa) << " exp(" << xs[i] << ") = " << y[i] << ", scalar " << want;
    }
  }
}

__attribute__((target("avx512f,avx512bw,avx512vl,avx2,fma"))) void scores_both_ways(const float* x, float scale, float* together,
                                                                                 float* alone) {
  __m512 v[8];
  for (int j = 0; j < 8; ++j) v[j] = _mm512_loadu_ps(x + 16 * j);
  kernels::cpu::reduce8_scaled(v, scale, together);
  for (int j = 0; j < 8; ++j) alone[j] = _mm512_reduce_add_ps(v[j]) * scale;
}

// The AVX-512 scores of 8 keys summed together equal the one-key path's sums
// bit for bit (a sequence's last keys take that path): lanes of mixed
// magnitude and sign, where any other order of the additions rounds
// differently, and infinities and NaN in some lanes.
TEST(AttentionScores, EightSumsTogetherEqualOneAtATime) {
  if (!kernels::cpu::isa_supported(kernels::cpu::Isa::Avx512)) GTEST_SKIP() << "no AVX-512 on this CPU: SKIPPED";
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> mant(-1.0f, 1.0f);
  std::uniform_int_distribution<int> expo(-20, 20);
  int differ_from_sequential = 0;
  for (int trial = 0; trial < 2000; ++trial) {
    float x[128];
    for (float& f : x) f = std::ldexp(mant(rng), expo(rng));
    if (trial % 100 == 1) x[trial % 128] = INFINITY;
    if (trial % 100 == 2) x[trial % 128] = NAN;
    const float scale = 0.0721f + 0.001f * static_cast<float>(trial % 7);
    float together[8], alone[8];
    scores_both_ways(x, scale, together, alone);
    for (int j = 0; j < 8; ++j) {
      const bool same = std::isnan(alone[j]) ? std::isnan(together[j]) : std::memcmp(&alone[j], &together[j], 4) == 0;
      ASSERT_TRUE(same) << "trial " << trial << " key " << j << ": " << together[j] << " vs " << alone[j];
      float seq = 0;  // lanes in order: the data does tell summation orders apart
      for (int l = 0; l < 16; ++l) seq += x[16 * j + l];
      differ_from_sequential += seq * scale != alone[j];
    }
  }
  EXPECT_GT(differ_from_sequential, 1000);
}

// Arguments with only what attention_plan reads: one token per sequence at
// the given positions.
struct PlanArgs {
  std::vector<int32_t> positions, seqs;
  AttentionArgs a;
  PlanArgs(int64_t n_heads, int64_t n_kv_heads, std::vector<int32_t> pos) : positions(std::move(pos)) {
    for (size_t i = 0; i < positions.size(); ++i) seqs.push_back(static_cast<int32_t>(i));
    a.n_tokens = static_cast<int64_t>(positions.size());
    a.n_heads = n_heads;
    a.n_kv_heads = n_kv_heads;
    a.v_dim = 512;
    a.positions = positions.data();
    a.tok_seq = seqs.data();
  }
};

// Decoding one sequence leaves one tile per KV head. Heads sharing a row
// (MLA's 16) are halved down to 8 first: those tiles stay bound by their dot
// products, and need no merge pass. Long contexts are then split by chunks
// (every chunk of every pair in exactly one tile, all the tile's heads
// together, so K/V rows are read once per tile), short ones by heads.
TEST(AttentionPlan, SplitsLongContextsByChunksAndShortOnesByHeads) {
  using kernels::cpu::kKeyChunk;
  const PlanArgs mla(16, 1, {640 - 1});
  const auto two = kernels::cpu::attention_plan(mla.a, 2);
  EXPECT_TRUE(two.splits.empty());
  EXPECT_EQ(two.partial_floats, 0u);
  ASSERT_EQ(two.tiles.size(), 2u);
  for (size_t i = 0; i < 2; ++i) {
    EXPECT_EQ(two.tiles[i].h0, static_cast<int64_t>(8 * i));
    EXPECT_EQ(two.tiles[i].h1, static_cast<int64_t>(8 * i + 8));
  }

  const auto plan = kernels::cpu::attention_plan(mla.a, 4);
  ASSERT_EQ(plan.splits.size(), 2u);
  for (const auto& sp : plan.splits) EXPECT_EQ(sp.chunks, 640 / kKeyChunk);
  EXPECT_EQ(plan.split_pairs, 16);
  EXPECT_EQ(plan.partial_floats, static_cast<size_t>(16 * 10 * (2 + 512)));
  std::vector<int> covered(20, 0);  // [half of the heads][chunk]
  for (const auto& u : plan.tiles) {
    EXPECT_EQ(u.h1 - u.h0, 8);
    EXPECT_EQ(u.split, u.h0 / 8);
    for (int64_t c = u.c0; c < u.c1; ++c) ++covered[static_cast<size_t>(u.h0 / 8 * 10 + c)];
  }
  EXPECT_GE(plan.tiles.size(), 4u);
  EXPECT_EQ(covered, std::vector<int>(20, 1));

  const PlanArgs gqa(12, 2, {kKeyChunk - 1});  // one chunk: nothing to split but heads
  const auto short_plan = kernels::cpu::attention_plan(gqa.a, 4);
  EXPECT_TRUE(short_plan.splits.empty());
  EXPECT_EQ(short_plan.partial_floats, 0u);
  ASSERT_EQ(short_plan.tiles.size(), 4u);
  for (const auto& u : short_plan.tiles) EXPECT_EQ(u.h1 - u.h0, 3);

  const PlanArgs batch(12, 2, {700, 20, 300});  // enough tiles already: whole contexts
  const auto batch_plan = kernels::cpu::attention_plan(batch.a, 4);
  EXPECT_TRUE(batch_plan.splits.empty());
  EXPECT_EQ(batch_plan.tiles.size(), 6u);
}

// The SIMD folds equal the scalar fold bit for bit (the kernels fold chunks
// in their value pass, attention_merge with these: both must give the same
// bits), over awkward lengths and values that round differently unfused.
TEST(AttentionFold, SimdTwinsAgreeBitForBit) {
  using kernels::cpu::Isa;
  std::mt19937 rng(11);
  for (Isa isa : {Isa::Avx2, Isa::Avx512}) {
    if (!kernels::cpu::isa_supported(isa)) {
      std::printf("[  SKIPPED ] fold twin for %s: not on this CPU\n", std::string(kernels::cpu::isa_name(isa)).c_str());
      continue;
    }
    for (int64_t n : {1, 7, 16, 37, 512}) {
      const auto run0 = random_floats(rng, static_cast<size_t>(n), -3.0f, 3.0f);
      const auto chunk = random_floats(rng, static_cast<size_t>(n), -3.0f, 3.0f);
      const kernels::cpu::ChunkMerge f{0.318f, 0.9271f};
      std::vector<float> want = run0, got = run0;
      for (int64_t i = 0; i < n; ++i) want[static_cast<size_t>(i)] = std::fma(chunk[static_cast<size_t>(i)], f.take, run0[static_cast<size_t>(i)] * f.keep);
      (isa == Isa::Avx512 ? kernels::cpu::attention_fold_avx512 : kernels::cpu::attention_fold_avx2)(got.data(), chunk.data(), n, f);
      EXPECT_EQ(0, std::memcmp(want.data(), got.data(), want.size() * sizeof(float))) << kernels::cpu::isa_name(isa) << " n=" << n;
    }
  }
}

class AttentionBackendTest : public ::testing::TestWithParam<BackendCase> {};

TEST_P(AttentionBackendTest, MatchesReference) {
  auto ref = make_reference();
  DSINFER_BACKEND_OR_SKIP(be, GetParam());
  uint32_t seed = 100;
  for (const AttnCase& c : attn_cases())
    for (bool bf16 : {false, true}) {
    SCOPED_TRACE(c.name + (bf16 ? " bf16 cache" : " f32 cache"));
    const AttnData d = make_data(c, seed++, bf16);
    const auto want = outputs(d, run_attention(*ref, d));
    const auto got = outputs(d, run_attention(*be, d));
    EXPECT_TRUE(all_close(got, std::vector<double>(want.begin(), want.end()), kernel_tolerance(d, want)));
    // A query at position 0 sees exactly one key: its output is that V row, exactly.
    for (int64_t t = 0; t < d.n_tokens(); ++t) {
      if (d.positions[static_cast<size_t>(t)] != 0) continue;
      const int64_t s = d.tok_seq[static_cast<size_t>(t)];
      for (int64_t h = 0; h < c.n_heads; ++h) {
        const int64_t g = h / (c.n_heads / c.n_kv_heads);
        const float* v = d.vcache().data() + d.slot(s, 0) * d.v_token_stride + g * d.v_head_stride;
        for (int64_t i = 0; i < c.v_dim; ++i)
          ASSERT_EQ(got[static_cast<size_t>(t * c.n_heads * c.v_dim + h * c.v_dim + i)], v[i])
              << "token " << t << " head " << h << " dim " << i;
      }
    }
  }
}

// The CPU kernels cut a call into tiles of tokens x heads that share K/V
// reads; a token's output must not depend on them: computed alone it has the
// same bits as among the others (batch invariance of greedy serving).
TEST_P(AttentionBackendTest, EachTokenAsIfAlone) {
  DSINFER_BACKEND_OR_SKIP(be, GetParam());
  uint32_t seed = 300;
  for (const AttnCase& c : attn_cases())
    for (bool bf16 : {false, true}) {
    SCOPED_TRACE(c.name + (bf16 ? " bf16 cache" : " f32 cache"));
    const AttnData d = make_data(c, seed++, bf16);
    const auto all = outputs(d, run_attention(*be, d));
    const size_t width = static_cast<size_t>(c.n_heads * c.v_dim);
    for (int64_t t = 0; t < d.n_tokens(); ++t) {
      AttnData one = d;
      one.c.queries = {c.queries[static_cast<size_t>(t)]};
      one.positions = {d.positions[static_cast<size_t>(t)]};
      one.tok_seq = {d.tok_seq[static_cast<size_t>(t)]};
      const auto q0 = d.q.begin() + t * d.q_token_stride;
      one.q.assign(q0, q0 + d.q_token_stride);
      const auto alone = outputs(one, run_attention(*be, one));
      ASSERT_EQ(alone.size(), width);
      EXPECT_EQ(0, std::memcmp(alone.data(), all.data() + static_cast<size_t>(t) * width, width * sizeof(float)))
          << "token " << t << " differs alone";
    }
  }
}

// A bf16 cache is widened exactly and its queries rounded to bf16: the output
// equals the same backend's over a float32 cache holding the same
// (bf16-representable) values, given the rounded queries: bit for bit on the
// reference backend; the CPU kernels also take the softmax numerators as bf16
// for the V sum (and where they have vdpbf16ps sum products in pairs), so
// theirs lie within that rounding's bound (kernel_tolerance). Each backend
// and SIMD level thus runs its bf16 loads (tails included: dims not
// multiples of 8, 16 or 32) against its own float32 path, which
// MatchesReference ties to the reference.
TEST_P(AttentionBackendTest, Bf16CacheEqualsF32CacheOfTheSameValues) {
  DSINFER_BACKEND_OR_SKIP(be, GetParam());
  const bool rounds_numerators = GetParam().name == "cpu";
  uint32_t seed = 500;
  for (const AttnCase& c : attn_cases()) {
    SCOPED_TRACE(c.name);
    AttnData d = make_data(c, seed++, true);
    const auto half = outputs(d, run_attention(*be, d));
    const std::vector<double> tol = kernel_tolerance(d, half);
    d.bf16 = false;
    const auto unrounded = outputs(d, run_attention(*be, d));
    round_to_bf16(d.q);
    const auto full = outputs(d, run_attention(*be, d));
    ASSERT_EQ(half.size(), full.size());
    if (rounds_numerators) {
      EXPECT_TRUE(all_close(half, std::vector<double>(full.begin(), full.end()), tol));
    } else {
      EXPECT_EQ(0, std::memcmp(half.data(), full.data(), half.size() * sizeof(float)));
    }
    EXPECT_NE(0, std::memcmp(unrounded.data(), full.data(), full.size() * sizeof(float)))
        << "rounding the queries changed nothing: the test would not see it missing";
  }
}

// A call of the CPU kernels on d's host buffers, its caches as bf16 words
// (a.out left for the caller).
struct HostBf16Call {
  std::vector<uint16_t> k, v;
  AttentionArgs a;
  explicit HostBf16Call(const AttnData& d) : k(bf16_words(d.k)), v(bf16_words(d.v)), a(shape_args(d)) {
    a.q = d.q.data();
    a.k_cache = k.data();
    a.v_cache = d.c.mla ? k.data() : v.data();
    a.positions = d.positions.data();
    a.tok_seq = d.tok_seq.data();
    a.block_tables = d.block_tables.data();
  }
};

// The AVX-512 kernel's two ways with a bf16 cache on the same tiles, against
// the scalar twin: vdpbf16ps scores (what a CPU with AVX512_BF16 runs) and
// widened ones (what one without runs, which no backend reaches here).
TEST(AttentionBf16Dots, AgreeWithTheWideningKernelAndTheScalarTwin) {
  namespace cpu = kernels::cpu;
  if (!cpu::isa_supported(cpu::Isa::Avx512) || !cpu::has_bf16_dots())
    GTEST_SKIP() << "no AVX-512 with AVX512_BF16 on this CPU: SKIPPED";
  uint32_t seed = 700;
  for (const AttnCase& c : attn_cases()) {
    SCOPED_TRACE(c.name);
    const AttnData d = make_data(c, seed++, true);
    const HostBf16Call call(d);
    AttentionArgs a = call.a;
    const cpu::AttentionPlan plan = cpu::attention_plan(a, 1);
    std::vector<std::vector<float>> outs;
    for (const auto fn : {cpu::attention_scalar, cpu::attention_avx512_widening, cpu::attention_avx512_dots}) {
      std::vector<float> out(static_cast<size_t>(d.n_tokens() * d.out_token_stride), kSentinel);
      a.out = out.data();
      for (const cpu::AttentionTile& u : plan.tiles) fn(a, u, nullptr);
      outs.push_back(outputs(d, out));
    }
    const double tol = 1e-6 * std::sqrt(static_cast<double>(c.qk_dim));
    EXPECT_TRUE(all_close(outs[1], outs[0], tol, tol)) << "widening against the scalar twin";
    EXPECT_TRUE(all_close(outs[2], outs[0], tol, tol)) << "vdpbf16ps against the scalar twin";
  }
}

// The AMX-BF16 kernel on the cases whose dims it takes: whole tiles against
// the scalar twin; and the same bits from tiles of fewer heads cut by chunk
// ranges (partials, then attention_merge) and from its own plan's cuts by
// value columns, as a decode step alone or in a batch would run them.
TEST(AttentionAmx, AgreesWithTheScalarTwinAndWithItselfHoweverTheContextIsCut) {
  namespace cpu = kernels::cpu;
  if (!cpu::isa_supported(cpu::Isa::Amx) || !cpu::has_amx_bf16())
    GTEST_SKIP() << "no AMX-BF16 on this CPU: SKIPPED";
  uint32_t seed = 900;
  int ran = 0;
  for (const AttnCase& c : attn_cases()) {
    SCOPED_TRACE(c.name);
    const AttnData d = make_data(c, seed++, true);
    const HostBf16Call call(d);
    AttentionArgs a = call.a;
    if (!cpu::amx_attention_fits(a, cpu::Isa::Amx)) continue;
    ++ran;
    const auto run = [&](cpu::Isa isa, const cpu::AttentionPlan& plan) {
      std::vector<float> out(static_cast<size_t>(d.n_tokens() * d.out_token_stride), kSentinel), partials(plan.partial_floats);
      a.out = out.data();
      cpu::attention(a, isa, plan, partials.data(), 0, static_cast<int64_t>(plan.tiles.size()));
      cpu::attention_merge(a, isa, plan, partials.data(), 0, plan.split_pairs);
      return outputs(d, out);
    };
    const cpu::AttentionPlan whole = cpu::attention_plan(a, 1), chunks = cpu::attention_plan(a, 64),
                             columns = cpu::attention_plan(a, 64, true);
    ASSERT_FALSE(chunks.splits.empty()) << "the case has no context of several chunks";
    bool cut = false;
    for (const auto& u : columns.tiles) cut = cut || u.d1 > 0;
    ASSERT_TRUE(cut) << "the AMX plan did not cut by columns";
    const std::vector<float> amx = run(cpu::Isa::Amx, whole), twin = run(cpu::Isa::Scalar, whole);
    EXPECT_TRUE(all_close(amx, std::vector<double>(twin.begin(), twin.end()), kernel_tolerance(d, twin)));
    EXPECT_EQ(0, std::memcmp(amx.data(), run(cpu::Isa::Amx, chunks).data(), amx.size() * sizeof(float)))
        << "chunk partials merged";
    EXPECT_EQ(0, std::memcmp(amx.data(), run(cpu::Isa::Amx, columns).data(), amx.size() * sizeof(float)))
        << "column cuts";
  }
  EXPECT_EQ(ran, 3) << "cases the AMX kernel takes";
}

INSTANTIATE_TEST_SUITE_P(Backends, AttentionBackendTest, ::testing::ValuesIn(backends_under_test()),
                         backend_case_name);

}  // namespace
}  // namespace dsinfer::test
