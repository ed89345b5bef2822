// The driver shared by the kernels over weights repacked into groups of 16
// rows (packed.h): which tiles of groups x tokens to run, and where their
// results go. A kernel K provides `template <int G, int T> static void
// tile(const GroupCtx&, const TileAt&, float (*out)[kRows])` for G groups
// (tile_group: consecutive, or spread over a decode call) and T tokens over
// weight blocks [k0, k1), accumulating into out[g * T + tt][lane]. Tile
// shapes and block ranges differ only in how many rows and tokens share a pass
// and where the running sums wait between passes (stored and reloaded
// exactly); each (row, token) sees the same operations in every shape.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>

#include "core/quant.h"
#include "kernels/cpu/amx.h"
#include "kernels/cpu/matmul_kernels.h"
#include "kernels/cpu/stream_store.h"
#include "kernels/packed.h"

namespace dsinfer::kernels::cpu::groups {

inline constexpr int kRows = packed::kGroupRows;
// Prefill tiles: up to kPrefillGroups groups x kPrefillTokens tokens, so each
// weight vector serves 6 tokens and each broadcast activation 2 groups (Q4_K:
// 12 dot-product and 12 integer-sum registers of the 32). Measured on the dev box
// against 3 x 4 (matmul_bench Prefill): Q4_K +11%, Q4_0 +6%, Q8_0 +2.5%.
inline constexpr int kPrefillGroups = 2, kPrefillTokens = 6;
// Groups per tile with 1 or 2 tokens: one memory stream each (a core reading a
// single stream gets well under its share of the bandwidth). Four streams
// beat eight for one token on the dev VM, over the striped layout, in windows
// alternating both with the read probe (1.5B gate/up shapes): Q4_K 46 against
// 43 GB/s with both vCPUs on two dies (probe ~57), 34.3 against 33.6 on one
// (probe ~36); Q8_0 35.0 against 34.1, Q4_0 34.6 against 32.9; two streams
// were slower than either.
inline constexpr int kStreams1 = 4, kStreams2 = 4;  // powers of two (tile_any)
// Groups whose rows are at most this many bytes (MLA's per-head W_uk^T: 128
// values, 2176 bytes of Q8_0 per group) are too short a stream each: decode
// tiles take groups spread over the call, so that each stream runs on through
// the following tiles (matmul_bench DecodeHeads, Q8_0 cold: ~10% faster;
// Q4_K groups of 4.6 KB and 13.8 KB were no faster, or slower, in stripes on
// the Zen VM). Contiguous copies spread longer rows too: on the AMX Xeon VM
// (no stripes by default) Q4_K 8960 x 1536 read 0.90-0.91 of the probe
// against 0.85 (matmul_bench DecodeVsProbe), the 1.5B q4_k decoded 0.89-0.90
// of the roofline against 0.87-0.88 (dsinfer bench, 3 alternated pairs).
inline constexpr int64_t kShortRowBytes = 4096;
// The groups of group_rows' widest tile for n tokens (1 where there is no
// such width).
constexpr int64_t decode_tile_groups(int64_t n) { return n == 1 ? kStreams1 : n == 2 ? kStreams2 : 1; }
// Calls of at most kSpanTiles token tiles of kSpanTokens (batched decode, a
// MoE expert's few tokens) read each weight once from memory: they go in
// passes over 256 weight values of kSpanGroups groups, every token tile
// running while the pass's weights are in L1, and the next pass's weights
// prefetched into L2 meanwhile (from memory at the pace of the compute;
// without it, reading and computing take turns; into L1, Q8_0's 8-token
// calls ran 15-20% slower on a Zen 4 VM). Tiles of 3 x 4 here: 8 tokens as 6 + 2
// ran 10-20% slower. Longer calls run token chunks over whole rows, each
// group's weights reused from L2 by all tiles of the chunk.
inline constexpr int kSpanGroups = 3, kSpanTokens = 4, kSpanTiles = 4;
// Calls of kSpanTokens + 1 .. kBatchTokens tokens (batched decode of up to 8
// sequences) run tiles of one group x all their tokens over whole rows,
// streaming the weights from memory as decode does: each weight vector
// unpacked once serves every token (a 3 x 4 span tile unpacks it once per 4
// tokens, and batched decode is bound by the vector units).
inline constexpr int kBatchTokens = 8;

struct GroupCtx {
  const MatmulArgs* a = nullptr;
  const QuantAct* act = nullptr;
  int64_t nblk = 0;    // weight blocks per row
  int64_t gbytes = 0;  // bytes per group
  int64_t bbytes = 0;  // bytes per block of a group
};

// A tile: groups grp, grp + gbytes, ... (ng of them; decode tiles of short
// rows: gstep apart) for tokens t .. t + nt - 1 over weight blocks [k0, k1).
// The running sums start at zero (k0 == 0) or from out. Prefill tiles (nt > 2)
// with pf set also pull pf_bytes at pf + g * gbytes for each of the G groups
// into L2, spread over the tile, so that weights streaming in from memory
// overlap with the compute on the ones already here; decode tiles prefetch
// their own streams.
struct TileAt {
  const uint8_t* grp = nullptr;
  int ng = 1;
  int64_t t = 0;
  int nt = 1;
  int64_t k0 = 0, k1 = 0;
  const uint8_t* pf = nullptr;
  int64_t pf_bytes = 0;
  bool stream = false;  // a batched decode tile (kBatchTokens)
  // Bytes between the tile's groups where they are not consecutive (decode
  // over short rows, RowsCall::strided): the next tile then starts one group
  // on. 0: gbytes apart, the next tile's groups ng on.
  int64_t gstep = 0;
};

// Where group g of a tile starts.
inline const uint8_t* tile_group(const GroupCtx& c, const TileAt& at, int g) {
  return at.grp + g * (at.gstep ? at.gstep : c.gbytes);
}

// What a decode tile of G groups asks for past the end of a group's row, from
// there: the same stream in the next tile.
inline int64_t past_row(const GroupCtx& c, const TileAt& at, int G) { return at.gstep ? 0 : (G - 1) * c.gbytes; }

using TileFn = void (*)(const GroupCtx& c, const TileAt& at, float (*out)[kRows]);

// What a tile of G groups x T tokens over super-blocks of `bytes` prefetches
// at super-block sb, from each group's super-block: the super-block kAhead
// on, and after a group's last one the next tile's group (past_row;
// prefetching past the matrix is harmless: prefetches never fault). A
// batched tile's one stream runs faster than each of decode's several: it
// asks for lines further ahead.
template <int G, int T>
inline int64_t super_ahead(const GroupCtx& c, const TileAt& at, int64_t sb, int64_t bytes) {
  constexpr int64_t kAhead = T <= 2 ? 1 : 6;
  return kAhead * bytes + (sb + kAhead < c.nblk ? 0 : past_row(c, at, G));
}

// An f16 of a packed block (the scalar twins' d and dmin).
inline float half_at(const uint8_t* p) {
  uint16_t h;
  std::memcpy(&h, p, 2);
  return half_to_float(h);
}

// 4 activation bytes in every 32-bit lane: vpdpbusd's operand against a
// 64-byte load of 16 rows x 4 values.
__attribute__((target("avx512f"))) inline __m512i bcast4(const int8_t* p) {
  int32_t v;
  std::memcpy(&v, p, 4);
  return _mm512_set1_epi32(v);
}

// A span tile's prefetch of the next pass (TileAt::pf), split evenly over
// the tile's steps: the split is worked out once per tile (a division per
// step and group was ~3% of a batched decode's tile time).
class PartPrefetch {
 public:
  PartPrefetch(const GroupCtx& c, const TileAt& at, int64_t steps)
      : p_(at.pf), gbytes_(c.gbytes), bytes_(at.pf_bytes), per_((at.pf_bytes + steps * 64 - 1) / (steps * 64) * 64) {}
  // Part `step` for group g. Always inlined: GCC judges a function whose only
  // effect is prefetching to have none, and deletes the call (pure-const
  // analysis, then dead-code removal).
  [[gnu::always_inline]] void fetch(int g, int64_t step) const {
    if (!p_) return;
    const int64_t end = std::min(bytes_, (step + 1) * per_);
    const uint8_t* q = p_ + g * gbytes_;
    for (int64_t o = step * per_; o < end; o += 64) __builtin_prefetch(q + o, 0, 2);  // into L2, as kStreamHint (intrin.h)
  }

 private:
  const uint8_t* p_;
  int64_t gbytes_, bytes_, per_;
};

// One (row, token) of a tile: lane l of group grp, token t.
struct Lane {
  const uint8_t* grp;
  int l;
  int64_t t;
};

// The scalar twins' tile: each (group, token, lane) through RowDot, which
// continues the running sum it is given over blocks [at.k0, at.k1).
template <float (*RowDot)(const GroupCtx&, const TileAt&, const Lane&, float)>
void tile_scalar(const GroupCtx& c, const TileAt& at, float (*out)[kRows]) {
  for (int g = 0; g < at.ng; ++g)
    for (int tt = 0; tt < at.nt; ++tt)
      for (int l = 0; l < kRows; ++l) {
        float& o = out[g * at.nt + tt][l];
        o = RowDot(c, at, Lane{tile_group(c, at, g), l, at.t + tt}, at.k0 > 0 ? o : 0.0f);
      }
}

// Pointers into the quantized activations of a tile's tokens.
template <int T>
struct TileActs {
  const int8_t* q[T];
  const float* d[T];
  const int32_t* s[T];
  const int32_t* ns128[T];
  const float* fs[T];
  const int32_t* sp[T];
  const int32_t* hp[T];
  TileActs(const QuantAct& act, int64_t t) {
    for (int tt = 0; tt < T; ++tt) {
      q[tt] = act.q_row(t + tt);
      d[tt] = act.d_row(t + tt);
      s[tt] = act.s_row(t + tt);
      ns128[tt] = act.ns128_row(t + tt);
      fs[tt] = act.fs_row(t + tt);
      sp[tt] = act.sp_row(t + tt);
      hp[tt] = act.hp_row(t + tt);
    }
  }
};

// The tile shapes group_rows asks for, as template instances of K::tile. Part
// is true for tiles over part of the rows or with a prefetch (the passes of a
// short call), whose running sums and prefetches cost a little in the inner
// loop; the tiles of decode and long calls do without.
template <class K, int G, bool Part, int MaxT>
void tile_tokens(const GroupCtx& c, const TileAt& at, float (*out)[kRows]) {
  if constexpr (MaxT >= 6)
    if (at.nt == 6) return K::template tile<G, 6, Part>(c, at, out);
  if constexpr (MaxT >= 5)
    if (at.nt == 5) return K::template tile<G, 5, Part>(c, at, out);
  switch (at.nt) {
    case 4: return K::template tile<G, 4, Part>(c, at, out);
    case 3: return K::template tile<G, 3, Part>(c, at, out);
    case 2: return K::template tile<G, 2, Part>(c, at, out);
    default: return K::template tile<G, 1, Part>(c, at, out);
  }
}

template <class K, int G>
void tile_tokens(const GroupCtx& c, const TileAt& at, float (*out)[kRows]) {
  constexpr int kMaxT = G <= kPrefillGroups ? kPrefillTokens : kSpanTokens;
  if (at.k0 > 0 || at.k1 < c.nblk || at.pf) return tile_tokens<K, G, true, kSpanTokens>(c, at, out);
  tile_tokens<K, G, false, kMaxT>(c, at, out);
}

// A batched decode tile: one group, whole rows, weights streamed.
template <class K>
void tile_batch(const GroupCtx& c, const TileAt& at, float (*out)[kRows]) {
  static_assert(kBatchTokens == 8 && kSpanTokens == 4);
  switch (at.nt) {
    case 8: return K::template tile<1, 8, false, true>(c, at, out);
    case 7: return K::template tile<1, 7, false, true>(c, at, out);
    case 6: return K::template tile<1, 6, false, true>(c, at, out);
    default: return K::template tile<1, 5, false, true>(c, at, out);
  }
}

template <class K>
void tile_any(const GroupCtx& c, const TileAt& at, float (*out)[kRows]) {
  static_assert(kSpanGroups == 3 && kPrefillGroups < kSpanGroups && kPrefillTokens <= 6 && kSpanTokens <= 4);
  if (at.stream) return tile_batch<K>(c, at, out);
  if (at.nt == 1 && at.ng == kStreams1) return K::template tile<kStreams1, 1, false>(c, at, out);
  if (at.nt == 2 && at.ng == 4) return K::template tile<4, 2, false>(c, at, out);
  switch (at.ng) {
    case 3: return tile_tokens<K, 3>(c, at, out);
    case 2: return tile_tokens<K, 2>(c, at, out);
    default: return tile_tokens<K, 1>(c, at, out);
  }
}

// The passes of a call of at most kSpanTiles token tiles over groups up to g1.
struct SpanPlan {
  const GroupCtx& c;
  const uint8_t* base;
  int64_t g1;
  int64_t n;      // tokens
  int64_t span;   // blocks per pass
  int64_t tiles;  // token tiles
  int64_t bytes;  // of a pass, per group
  int64_t part;   // of those, prefetched by each token tile (whole lines)
  SpanPlan(const GroupCtx& ctx, const uint8_t* b, int64_t groups_end)
      : c(ctx), base(b), g1(groups_end), n(c.a->n), span(std::max<int64_t>(1, 256 / block_elems(c.a->w->dtype))),
        tiles((n + kSpanTokens - 1) / kSpanTokens), bytes(span * c.bbytes), part((bytes + tiles * 64 - 1) / (tiles * 64) * 64) {}
  // Token tile i of the pass over blocks k0.. of the groups from g: where it is,
  // and its share of the next pass's weights to prefetch.
  TileAt tile(int64_t g, int64_t k0, int64_t i) const {
    const int64_t t = i * kSpanTokens;
    TileAt at{base + g * c.gbytes,
              static_cast<int>(std::min<int64_t>(kSpanGroups, g1 - g)),
              t,
              static_cast<int>(std::min<int64_t>(kSpanTokens, n - t)),
              k0,
              std::min(c.nblk, k0 + span)};
    const int64_t next_k = at.k1 < c.nblk ? at.k1 : 0, next_g = at.k1 < c.nblk ? g : g + kSpanGroups;
    if (next_g < g1) {
      at.pf = base + next_g * c.gbytes + next_k * c.bbytes + i * part;
      at.pf_bytes = std::clamp<int64_t>(bytes - i * part, 0, part);
    }
    return at;
  }
};

// What an AMX kernel computes: the sums of one group (lane l = row l) for n
// tokens from t, n a multiple of amx::kTokens (the last tile may reach into
// QuantAct's padding rows), into acc[tt][l] (tt from 0), exactly as the tiles
// of the same kernel family would.
struct AmxAt {
  const uint8_t* grp = nullptr;
  int64_t t = 0;
  int64_t n = 0;
};

// What an ISA level adds to the driver: an AMX part (kAmx: group() computes
// whole tiles of amx::kTokens tokens) and streaming stores of a long call's
// results (kStream: AVX-512 levels; stream_store.h). Plain: neither (the
// scalar twins, on any CPU).
struct Plain {
  static constexpr bool kAmx = false, kStream = false;
  // Calls of kSpanTokens + 1 .. kBatchTokens tokens run batch tiles (true) or
  // span passes: see AmxCpu.
  static constexpr bool kBatchTiles = true;
  static void group(const GroupCtx&, const AmxAt&, float (*)[kRows]) {}
};
struct Streamed : Plain {
  static constexpr bool kStream = true;
};
// The AMX level's drivers (Intel Xeons). There a batch tile's one stream per
// core, even with its prefetches, reads its weights at about half the speed
// the tile computes them (matmul_bench Batch Q4_K 8960 x 1536, 8 tokens: 450 us
// from memory against 270 us from cache), while span passes, whose next
// pass's lines arrive in L2 during this one, lose little (330 against 300 us):
// dsinfer bench 1.5B q4_k --batch 8, 164-176 against 140 tokens/s. On the
// Zen 5 development VM it is the other way round (architecture.md), so the
// AVX-512 level keeps batch tiles.
struct AmxCpu : Streamed {
  static constexpr bool kAmx = true, kBatchTiles = false;
};

// One call of group_rows: rows [begin, end) of the view, groups [g0, g1),
// and where each (group, token)'s 16 results go.
template <TileFn Tile, class Ext>
struct RowsCall {
  static constexpr int kOut = 16;  // (group, token) rows of a tile's results
  static_assert(kOut >= kStreams1 && kOut >= 2 * kStreams2 && kOut >= kPrefillGroups * kPrefillTokens &&
                kOut >= kSpanGroups * kSpanTokens);
  const MatmulArgs& a;
  const Weight& w;
  GroupCtx c;
  const uint8_t* base;
  int64_t begin, end, g0, g1;

  // [b, e) lies in one stripe of a striped weight (base: its origin).
  RowsCall(const MatmulJob& job, int64_t b, int64_t e)
      : a(*job.a), w(*job.a->w), begin(b), end(e), g0((w.row0 + b) / kRows), g1((w.row0 + e + kRows - 1) / kRows) {
    const int64_t nblk = w.cols / block_elems(w.dtype), gbytes = packed::group_bytes(w.dtype, w.cols);
    c = GroupCtx{&a, job.act, nblk, gbytes, gbytes / nblk};
    base = packed::group_origin(w, g0, gbytes);
  }
  // Token t of group g from v[0..16): the lanes inside [begin, end).
  void store(int64_t g, int64_t t, const float* v) const {
    const int64_t first = g * kRows - w.row0;  // view row of lane 0 (may be negative)
    float* y = a.y + t * a.y_stride + first;
    const int64_t l0 = std::max<int64_t>(0, begin - first), l1 = std::min<int64_t>(kRows, end - first);
    if (l0 == 0 && l1 == kRows && !a.bias) {  // whole groups (all but a view's edges): one copy
      std::memcpy(y, v, sizeof(float) * kRows);
      return;
    }
    for (int64_t l = l0; l < l1; ++l) y[l] = v[l] + (a.bias ? a.bias[first + l] : 0.0f);
  }
  // n tokens from t of group g, from v[0..n) (the long calls).
  void put(int64_t g, int64_t t, const float (*v)[kRows], int64_t n) const {
    if constexpr (Ext::kStream) {
      const int64_t first = g * kRows - w.row0;  // as in store
      stream::store_rows(v, n,
                         stream::RowsOut{a.y + t * a.y_stride + first, a.y_stride, a.bias ? a.bias + first : nullptr,
                                         static_cast<int>(std::max<int64_t>(0, begin - first)),
                                         static_cast<int>(std::min<int64_t>(kRows, end - first))});
    } else {
      for (int64_t i = 0; i < n; ++i) store(g, t + i, v[i]);
    }
  }

  // Decode over short rows, or any rows of a contiguous copy (see
  // kShortRowBytes; a striped one's stripes are its long streams): tiles
  // k = 0 .. stride - 1 of groups g0 + k, g0 + k + stride, ...: stream i
  // reads groups g0 + i * stride .. in order. Returns the first group left
  // for consecutive tiles.
  int64_t strided(int streams, float (*out)[kRows]) const {
    const int64_t stride = (g1 - g0) / streams;
    const int nt = static_cast<int>(a.n);
    if ((c.gbytes > kShortRowBytes && w.stripe_groups) || streams < 2 || stride < 2) return g0;
    TileAt at{nullptr, streams, 0, nt, 0, c.nblk, nullptr};
    at.gstep = stride * c.gbytes;
    for (int64_t k = 0; k < stride; ++k) {
      at.grp = base + (g0 + k) * c.gbytes;
      Tile(c, at, out);
      for (int i = 0; i < streams; ++i)
        for (int tt = 0; tt < nt; ++tt) store(g0 + k + i * stride, tt, out[i * nt + tt]);
    }
    return g0 + stride * streams;
  }
  // 1-2 tokens: several groups per tile, one memory stream each.
  void decode() const {
    alignas(64) float out[kOut][kRows];
    const int nt = static_cast<int>(a.n), streams = static_cast<int>(decode_tile_groups(nt));
    for (int64_t g = strided(streams, out); g < g1;) {
      int ng = streams;  // the widest tile shape that fits the groups left
      while (ng > 1 && g + ng > g1) ng /= 2;
      Tile(c, TileAt{base + g * c.gbytes, ng, 0, nt, 0, c.nblk, nullptr}, out);
      for (int i = 0; i < ng; ++i)  // no k / nt: a division per row group was ~10% of this function
        for (int tt = 0; tt < nt; ++tt) store(g + i, tt, out[i * nt + tt]);
      g += ng;
    }
  }
  // Decode units [u0, u1) of a whole striped weight (MatmulJob::across_stripes):
  // each tile takes the same group of `streams` consecutive stripes, so its
  // streams lie a multiple of HostArena::kStripeAlign apart.
  void across_stripes(int64_t u0, int64_t u1) const {
    alignas(64) float out[kOut][kRows];
    const int nt = static_cast<int>(a.n), streams = static_cast<int>(decode_tile_groups(nt));
    const int64_t sg = w.stripe_groups, stripes = (g1 - g0) / sg;
    TileAt at{nullptr, streams, 0, nt, 0, c.nblk, nullptr};
    at.gstep = w.stripe_bytes;
    for (int64_t u = u0; u < u1; u += streams) {
      const int64_t g = u % stripes * sg + u / stripes;  // the tile's first group
      at.grp = packed::group_ptr(w, g, c.gbytes);
      Tile(c, at, out);
      for (int i = 0; i < streams; ++i)
        for (int tt = 0; tt < nt; ++tt) store(g + i * sg, tt, out[i * nt + tt]);
    }
  }
  // kSpanTokens + 1 .. kBatchTokens tokens: one group x all of them, streamed.
  void batch() const {
    alignas(64) float out[kOut][kRows];
    TileAt at{nullptr, 1, 0, static_cast<int>(a.n), 0, c.nblk, nullptr, 0, true};
    for (int64_t g = g0; g < g1; ++g) {
      at.grp = base + g * c.gbytes;
      Tile(c, at, out);
      for (int64_t t = 0; t < a.n; ++t) store(g, t, out[t]);
    }
  }
  // Up to kSpanTiles token tiles: passes as SpanPlan says.
  void spans() const {
    const SpanPlan p(c, base, g1);
    float sums[kSpanTiles][kOut][kRows];  // running sums per token tile between passes
    for (int64_t g = g0; g < g1; g += kSpanGroups) {
      for (int64_t k0 = 0; k0 < c.nblk; k0 += p.span)
        for (int64_t i = 0; i < p.tiles; ++i) Tile(c, p.tile(g, k0, i), sums[i]);
      for (int64_t i = 0; i < p.tiles; ++i) {
        const TileAt at = p.tile(g, 0, i);
        for (int k = 0; k < at.ng * at.nt; ++k) store(g + k / at.nt, at.t + k % at.nt, sums[i][k]);
      }
    }
  }
  // Tokens [t0, t1) of a long call, whole AMX tiles first where Ext has them.
  void chunk(int64_t t0, int64_t t1) const {
    int64_t tv = t0;  // the first token for Tile
    if constexpr (Ext::kAmx) {
      static_assert(amx::kTokens == QuantAct::kPadRows);
      tv = t0 + (t1 - t0) / amx::kTokens * amx::kTokens;
      const int64_t n = t1 - tv >= amx::kMinTail ? tv - t0 + amx::kTokens : tv - t0;  // tokens for the AMX part
      tv = std::min(t1, t0 + n);
      alignas(64) float acc[amx::kMaxChunk][kRows];  // [n, 16]
      for (int64_t g = g0; g < g1 && n > 0; ++g) {
        Ext::group(c, AmxAt{base + g * c.gbytes, t0, n}, acc);
        put(g, t0, acc, tv - t0);
      }
    }
    alignas(64) float out[kOut][kRows];
    for (int64_t g = g0; g < g1 && tv < t1; g += kPrefillGroups) {
      const int ng = static_cast<int>(std::min<int64_t>(kPrefillGroups, g1 - g));
      for (int64_t t = tv; t < t1; t += kPrefillTokens) {
        const int nt = static_cast<int>(std::min<int64_t>(kPrefillTokens, t1 - t));
        Tile(c, TileAt{base + g * c.gbytes, ng, t, nt, 0, c.nblk, nullptr}, out);
        for (int k = 0; k < ng; ++k) put(g + k, t, out + k * nt, nt);
      }
    }
  }
};

// Rows [begin, end) of the view. With 1-2 tokens (decode), several groups
// per tile so that each thread reads several memory streams; up to
// kSpanTiles token tiles, passes as SpanPlan says; otherwise token chunks
// (activations in L2), each running whole rows of kPrefillGroups groups;
// with an AMX part, a chunk's whole tiles of amx::kTokens tokens go through
// it a group at a time, and so does a last partial tile of amx::kMinTail or
// more tokens (run whole over QuantAct's padding rows, the extra rows
// dropped); fewer last tokens go through Tile.
template <TileFn Tile, class Ext>
void group_rows_run(const MatmulJob& job, int64_t begin, int64_t end) {
  const RowsCall<Tile, Ext> call(job, begin, end);
  const int64_t n = job.a->n;
  if (n <= 2) return call.decode();
  if (Ext::kBatchTiles && n > kSpanTokens && n <= kBatchTokens) return call.batch();
  if (n <= kSpanTiles * kSpanTokens) return call.spans();
  const int64_t cols = call.w.cols;
  const int64_t chunk = Ext::kAmx ? amx::token_chunk(cols)
                                  : std::max<int64_t>(kPrefillTokens, token_chunk(cols * 3) / kPrefillTokens * kPrefillTokens);
  for (int64_t t0 = 0; t0 < n; t0 += chunk) call.chunk(t0, std::min(n, t0 + chunk));
  if constexpr (Ext::kStream) stream::fence();
}

// Rows [begin, end) of the view (units in stripe order for
// MatmulJob::across_stripes), one run per stripe they touch.
template <TileFn Tile, class Ext = Plain>
void group_rows(const MatmulJob& job, int64_t begin, int64_t end) {
  const Weight& w = *job.a->w;
  if (job.across_stripes) {
    const RowsCall<Tile, Ext> call(job, 0, w.rows);
    return call.across_stripes(begin / kRows, (end + kRows - 1) / kRows);
  }
  if (!w.stripe_groups) return group_rows_run<Tile, Ext>(job, begin, end);
  const int64_t stripe_rows = w.stripe_groups * kRows;
  for (int64_t r = begin, e; r < end; r = e) {  // e: the end of the stripe holding view row r, or end
    e = std::min(end, ((w.row0 + r) / stripe_rows + 1) * stripe_rows - w.row0);
    group_rows_run<Tile, Ext>(job, r, e);
  }
}

}  // namespace dsinfer::kernels::cpu::groups
