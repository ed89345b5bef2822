// Q8_0, Q4_0 and Q5_0 x16 (32-value blocks, one f16 scale per block and row) on
// the AMX unit. Each block's exact integer dot products for 16 tokens x 16
// rows come from one tile product (TDPBSSD, K = 32); the float work per block,
// row and token is the VNNI kernel's, operation for operation: one multiply
// d * d_a and one fused multiply-add of the integer sum into the running sum,
// in block order. So the results agree bit for bit with the VNNI tiles and
// the scalar twin (matmul_block32x16.cpp), whatever mix of tiles a call uses.
//
// The packed bytes are VNNI's unsigned operand (Q8_0 q + 128, Q4_0 the
// nibbles q, value q - 8; Q5_0 the nibbles and their fifth bits' masks,
// value q - 16); a slice of a group's blocks is turned into signed
// values (the value itself) once per call and used by every token tile, so
// the tile sums need no bias and each (token, block) costs three vector
// operations, against the VNNI kernel's eight dot products and three.
#include "kernels/cpu/intrin.h"  // first: see intrin.h

#include "kernels/cpu/matmul_block32_amx.h"

#include <algorithm>
#include <cstring>

#include "kernels/cpu/amx.h"
#include "kernels/packed.h"

#define DSI_UNROLL _Pragma("GCC unroll 16")

namespace dsinfer::kernels::cpu {

namespace {

using groups::AmxAt;
using groups::GroupCtx;
using groups::kRows;
constexpr int kT = amx::kTokens;
// Blocks unpacked at a time: 18 KiB, in L1 beside the activations' tiles.
constexpr int64_t kSlice = 32;

// Tile registers (shapes in amx::block32_config): tmm0, tmm1 the activations
// of blocks b, b + 1; tmm2, tmm3 their weights; tmm4, tmm5 or tmm6, tmm7 their
// sums.

struct alignas(64) Slice {
  int8_t b[kSlice][8 * 64];  // [block][k / 4][row][4]: B tiles of signed values
  __m512 d[kSlice];          // the blocks' scales per row
};

// The packed formats.
enum class Kind { Q8_0, Q4_0, Q5_0 };
template <Kind K>
constexpr int64_t kBlockBytes = K == Kind::Q8_0 ? packed::q8::kBlockBytes
                                : K == Kind::Q4_0 ? packed::q4::kBlockBytes
                                                  : packed::q5::kBlockBytes;

// Block blk's values into b (tile row r pairs with activations 4r .. 4r + 3):
// Q8_0's load h is tile row h; Q4_0's (Q5_0's) low nibbles of load h are
// values 4h.., its high nibbles 16 + 4h.. (tile row 4 + h).
template <Kind K>
DSI_AMX_TARGET void unpack(const uint8_t* blk, int8_t* b, __m512& d) {
  d = _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk)));
  if constexpr (K != Kind::Q8_0) {
    const __m512i low4 = _mm512_set1_epi8(0x0f), bias = _mm512_set1_epi8(K == Kind::Q5_0 ? 16 : 8);
    DSI_UNROLL
    for (int h = 0; h < 4; ++h) {
      const __m512i v = _mm512_loadu_si512(blk + packed::q4::kQsOffset + 64 * h);
      __m512i lo = _mm512_and_si512(v, low4), hi = _mm512_and_si512(_mm512_srli_epi16(v, 4), low4);
      if constexpr (K == Kind::Q5_0) {
        uint64_t m[2];
        std::memcpy(m, blk + packed::q5::mask_at(h, 0), sizeof m);
        lo = _mm512_mask_add_epi8(lo, m[0], lo, _mm512_set1_epi8(16));
        hi = _mm512_mask_add_epi8(hi, m[1], hi, _mm512_set1_epi8(16));
      }
      _mm512_store_si512(b + 64 * h, _mm512_sub_epi8(lo, bias));
      _mm512_store_si512(b + 64 * (4 + h), _mm512_sub_epi8(hi, bias));
    }
  } else {
    const __m512i flip = _mm512_set1_epi8(static_cast<char>(0x80));
    DSI_UNROLL
    for (int h = 0; h < 8; ++h)
      _mm512_store_si512(b + 64 * h, _mm512_xor_si512(_mm512_loadu_si512(blk + packed::q8::kQsOffset + 64 * h), flip));
  }
}

// One token tile's activations from block k0 on.
struct Acts {
  const int8_t* q;  // token 0's values of block k0; the next token stride bytes on
  int64_t stride;
  const float* d;  // token 0's scale of block k0; the next token nb floats on
  int64_t nb;
};

// Tokens [T0, T1) of a block's sums (dots, per token a row of 16) into the
// running sums: the VNNI kernel's f = d * d_a, acc = fma(float(sum), f, acc).
template <int T0, int T1>
DSI_AMX_TARGET inline void scale(const int32_t (*dots)[kRows], __m512 d, const float* da, int64_t nb, __m512 (&acc)[kT]) {
  DSI_UNROLL
  for (int tt = T0; tt < T1; ++tt) {
    const __m512 f = _mm512_mul_ps(d, _mm512_set1_ps(da[tt * nb]));
    acc[tt] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(_mm512_load_si512(dots[tt])), f, acc[tt]);
  }
}

// The previous pair's sums, stored in dots (blocks b - 2, b - 1), scaled.
struct Prev {
  const int32_t (*dots)[kT][kRows];
  int64_t b;
};

// Issues the products of blocks b, b + 1 into tiles C0, C1 and stores them
// into dots, and scales the previous pair meanwhile. The tile instructions
// wait in order for the tiles they name (a load for the product reading the
// register before, a store for its product), and the instructions behind a
// waiting one wait too: so each tile instruction comes after enough of the
// scaling that what it waits for is done.
template <int C0, int C1, bool Scale>
DSI_AMX_TARGET inline void pair(const Slice& s, const Acts& x, int64_t b, const Prev& prev, int32_t (*dots)[kT][kRows],
                                __m512 (&acc)[kT]) {
  const __m512 d0 = s.d[prev.b - 2 >= 0 ? prev.b - 2 : 0], d1 = s.d[prev.b - 1 >= 0 ? prev.b - 1 : 0];
  const float* da = x.d + prev.b - 2;
  amx::load<0>(x.q + b * kActBlock, x.stride);
  amx::load<2>(s.b[b], 64);
  amx::zero<C0>();
  amx::dpbssd<C0, 0, 2>();
  if constexpr (Scale) scale<0, 8>(prev.dots[0], d0, da, x.nb, acc);
  amx::load<1>(x.q + (b + 1) * kActBlock, x.stride);
  amx::load<3>(s.b[b + 1], 64);
  amx::zero<C1>();
  amx::dpbssd<C1, 1, 3>();
  if constexpr (Scale) {
    scale<8, 16>(prev.dots[0], d0, da, x.nb, acc);
    scale<0, 8>(prev.dots[1], d1, da + 1, x.nb, acc);
  }
  amx::store<C0>(dots[0], 64);
  if constexpr (Scale) scale<8, 16>(prev.dots[1], d1, da + 1, x.nb, acc);
  amx::store<C1>(dots[1], 64);
}

// One token tile over the slice's n blocks, continuing sums (unless first).
// Pairs of blocks alternate between tiles (4, 5) and (6, 7) and between two
// buffers of sums; each pair is scaled during the next one's products.
DSI_AMX_TARGET void tile(const Slice& s, int64_t n, const Acts& x, bool first, float (*sums)[kRows]) {
  __m512 acc[kT];
  DSI_UNROLL
  for (int tt = 0; tt < kT; ++tt) acc[tt] = first ? _mm512_setzero_ps() : _mm512_load_ps(sums[tt]);
  alignas(64) int32_t dots[2][2][kT][kRows];  // [pair parity][block][token][row]
  const int64_t pairs = n / 2;
  if (pairs > 0) pair<4, 5, false>(s, x, 0, Prev{dots[1], 0}, dots[0], acc);
  int64_t p = 1;
  for (; p + 2 <= pairs; p += 2) {
    pair<6, 7, true>(s, x, 2 * p, Prev{dots[0], 2 * p}, dots[1], acc);
    pair<4, 5, true>(s, x, 2 * p + 2, Prev{dots[1], 2 * p + 2}, dots[0], acc);
  }
  if (p < pairs) {
    pair<6, 7, true>(s, x, 2 * p, Prev{dots[0], 2 * p}, dots[1], acc);
    ++p;
  }
  if (pairs > 0) {  // the last pair
    const int32_t(*last)[kT][kRows] = dots[(pairs - 1) % 2];
    const int64_t b = 2 * pairs - 2;
    scale<0, kT>(last[0], s.d[b], x.d + b, x.nb, acc);
    scale<0, kT>(last[1], s.d[b + 1], x.d + b + 1, x.nb, acc);
  }
  if (n % 2) {  // the last block alone
    const int64_t b = n - 1;
    amx::load<0>(x.q + b * kActBlock, x.stride);
    amx::load<2>(s.b[b], 64);
    amx::zero<4>();
    amx::dpbssd<4, 0, 2>();
    amx::store<4>(dots[0][0], 64);
    scale<0, kT>(dots[0][0], s.d[b], x.d + b, x.nb, acc);
  }
  DSI_UNROLL
  for (int tt = 0; tt < kT; ++tt) _mm512_store_ps(sums[tt], acc[tt]);
}

template <Kind K>
DSI_AMX_TARGET void group(const GroupCtx& c, const AmxAt& at, float (*acc)[kRows]) {
  amx::configure(amx::block32_config());
  constexpr int64_t kBytes = kBlockBytes<K>;
  const QuantAct& act = *c.act;
  const int64_t tiles = at.n / kT;
  Slice s;
  for (int64_t k0 = 0; k0 < c.nblk; k0 += kSlice) {
    const int64_t n = std::min(kSlice, c.nblk - k0);
    for (int64_t b = 0; b < n; ++b) unpack<K>(at.grp + (k0 + b) * kBytes, s.b[b], s.d[b]);
    asm volatile("" ::: "memory");  // the tile loads read the slice behind the compiler's back
    // The next slice's bytes (past the row's end: the next group's, which
    // this thread most likely runs next; prefetches never fault), a share per
    // token tile, so that they arrive while the tiles compute.
    const uint8_t* next = at.grp + (k0 + n) * kBytes;
    const int64_t lines = kSlice * kBytes / 64, per = (lines + tiles - 1) / tiles;
    for (int64_t i = 0; i < tiles; ++i) {
      for (int64_t l = i * per; l < std::min(lines, (i + 1) * per); ++l) _mm_prefetch(reinterpret_cast<const char*>(next + 64 * l), _MM_HINT_T1);
      const int64_t t = at.t + i * kT;
      tile(s, n, Acts{act.q_row(t) + k0 * kActBlock, act.nb * kActBlock, act.d_row(t) + k0, act.nb}, k0 == 0, acc + i * kT);
    }
  }
  _tile_release();
}

}  // namespace

void q8_0_amx_group(const GroupCtx& c, const AmxAt& at, float (*acc)[kRows]) { group<Kind::Q8_0>(c, at, acc); }
void q4_0_amx_group(const GroupCtx& c, const AmxAt& at, float (*acc)[kRows]) { group<Kind::Q4_0>(c, at, acc); }
void q5_0_amx_group(const GroupCtx& c, const AmxAt& at, float (*acc)[kRows]) { group<Kind::Q5_0>(c, at, acc); }

}  // namespace dsinfer::kernels::cpu
