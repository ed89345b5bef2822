// Internals of the CPU matrix product y = x W^T: the activation quantization
// used by the integer kernels and the per-ISA row kernels. Every SIMD kernel
// has a scalar twin with the same arithmetic (tests compare them).
#pragma once

#include <cstddef>
#include <cstdint>
#include <new>
#include <utility>
#include <vector>

#include "kernels/backend.h"
#include "kernels/cpu/isa.h"

namespace dsinfer::kernels::cpu {

// Activations of the integer kernels: each token's k values in blocks of 32,
// q = round(x / d) with d = max|x| / 127 (f32), so x ~ d * q. A span of 8
// blocks shares one d (the max over its 256 values: Q4_K's super-blocks, so
// that the kernel sums a super-block's integer products before its one float
// scaling). Blocks per token are padded to an even count with zero blocks
// (q = d = s = 0).
inline constexpr int kActBlock = 32;
inline constexpr int64_t kSuperSpan = 8;

// Storage on 64-byte lines: an AMX tile row of 64 activation bytes that
// straddled two lines (std::vector gives 16-byte alignment) made the Q4_K
// AMX kernel ~1.6x slower.
template <class T>
struct LineAligned {
  using value_type = T;
  LineAligned() = default;
  template <class U>
  explicit LineAligned(const LineAligned<U>&) {}
  T* allocate(size_t n) { return static_cast<T*>(::operator new(n * sizeof(T), std::align_val_t{64})); }
  void deallocate(T* p, size_t) { ::operator delete(p, std::align_val_t{64}); }
  // resize() leaves new elements uninitialised: a decode step alternates
  // between products of 1536 and 8960 inputs, and value-initialising the
  // regrown buffers was 1.4% of the step (quantize_act writes every element
  // that is read, and the padding rows are never kept).
  template <class U>
  void construct(U* p) noexcept {
    ::new (static_cast<void*>(p)) U;
  }
  template <class U, class... A>
  void construct(U* p, A&&... a) {
    ::new (static_cast<void*>(p)) U(std::forward<A>(a)...);
  }
  bool operator==(const LineAligned&) const { return true; }
};
template <class T>
using LineVector = std::vector<T, LineAligned<T>>;

struct QuantAct {
  // Rows are allocated in whole multiples of kPadRows: an AMX tile of 16
  // tokens may run past the last token (its rows are computed and dropped),
  // reading whatever the padding rows hold.
  static constexpr int64_t kPadRows = 16;
  int64_t n = 0;     // tokens
  int64_t k = 0;     // values per token (a multiple of 32; of 256 with span 8)
  int64_t nb = 0;    // blocks per token including the padding
  int64_t span = 1;  // consecutive blocks sharing one d: 1 or kSuperSpan
  LineVector<int8_t> q;       // [n padded][nb * 32], rows on 64-byte lines (nb is even)
  LineVector<float> d;        // [n][nb]      scale (repeated over a span)
  LineVector<int32_t> s;      // [n][nb]      sum of the block's q
  LineVector<float> fs;       // [n][nb]      d * s (the Q4_K min term)
  // Span 1 only (the Q8_0 / Q4_0 kernels; empty with span 8: written for Q4_K,
  // their cold lines were most of a decode step's activation quantizing):
  LineVector<float> dx;       // [n][nb * 8]  d repeated 8 times (AVX-512 kernels)
  LineVector<int32_t> nsx;    // [n][nb * 8]  -s repeated 8 times (AVX-512 kernels)
  LineVector<int32_t> ns128;  // [n][nb]      -128 s: the repacked Q8_0 / Q4_0 kernels' block bias, taken by a
                              // broadcast load (from a register it costs a shuffle-port op per tile row)
  LineVector<int32_t> sp;     // [n][nb / 2]  span 8: s of blocks 2i, 2i + 1 as int16 (low, high)
  LineVector<int32_t> hp;     // [n][nb]      span 8: the sums of block b's q[0..16) and q[16..32) as int16
                              // (low, high): the Q6_K kernels' offset term, per sub-block of 16

  // Sizes the buffers for n tokens of k values; zeroes the padding blocks.
  // Throws std::invalid_argument if k does not fit the span.
  void resize(int64_t n_tokens, int64_t k_values, int64_t blocks_per_scale = 1);
  const int8_t* q_row(int64_t t) const { return q.data() + t * nb * kActBlock; }
  const float* d_row(int64_t t) const { return d.data() + t * nb; }
  const int32_t* s_row(int64_t t) const { return s.data() + t * nb; }
  const float* fs_row(int64_t t) const { return fs.data() + t * nb; }
  const float* dx_row(int64_t t) const { return dx.data() + t * nb * 8; }
  const int32_t* nsx_row(int64_t t) const { return nsx.data() + t * nb * 8; }
  const int32_t* ns128_row(int64_t t) const { return ns128.data() + t * nb; }
  const int32_t* sp_row(int64_t t) const { return sp.empty() ? nullptr : sp.data() + t * (nb / 2); }
  const int32_t* hp_row(int64_t t) const { return hp.empty() ? nullptr : hp.data() + t * nb; }
};

// Quantizes tokens [t0, t1) of x ([n, x_stride], first act.k columns) into act
// (already resized). Every ISA produces bit-identical results.
void quantize_act(Isa isa, const float* x, int64_t x_stride, int64_t t0, int64_t t1, QuantAct& act);

// Activations of the bf16 dot-product kernels (BackendOptions::bf16_activations):
// each token's k values rounded to bf16 as f32_to_bf16 does (nearest even),
// stored by tiles of 4 tokens: a tile holds, for each step of 32 columns (one
// vdpbf16ps), the 4 tokens' 32 values one after the other, zero-padded past k.
// A 4-token tile then reads one sequential stream, not 4 rows that the
// prefetchers pick up one by one.
struct Bf16Act {
  static constexpr int64_t kStepValues = 32;
  int64_t n = 0;      // tokens
  int64_t k = 0;      // values per token
  int64_t steps = 0;  // k / 32 rounded up
  LineVector<uint16_t> v;  // [n][steps * 32], zeros past k

  void resize(int64_t n_tokens, int64_t k_values);
  // Token t's values of step s (32 of them).
  const uint16_t* at(int64_t t, int64_t s) const { return v.data() + (t * steps + s) * kStepValues; }
  uint16_t* at(int64_t t, int64_t s) { return const_cast<uint16_t*>(static_cast<const Bf16Act*>(this)->at(t, s)); }
  uint16_t value(int64_t t, int64_t c) const { return at(t, c / kStepValues)[c % kStepValues]; }
};

// n floats rounded to bf16 as f32_to_bf16 (nearest even; a NaN stays a quiet
// NaN), by AVX-512 F/BW: only where isa_supported(Isa::Avx512).
void round_bf16_avx512(const float* x, int64_t n, uint16_t* out);

// Rounds tokens [t0, t1) of x ([n, x_stride], first act.k columns) into act
// (already resized); the same bits at every ISA.
void round_act_bf16(Isa isa, const float* x, int64_t x_stride, int64_t t0, int64_t t1, Bf16Act& act);

// Everything a row kernel needs: the arguments and, for the integer types, the
// quantized activations of all a.n tokens (for bf16 dot products, the
// activations in bf16).
struct MatmulJob {
  const MatmulArgs* a = nullptr;
  const QuantAct* act = nullptr;
  const Bf16Act* xb = nullptr;
  // Decode over a whole striped weight (Weight::stripe_groups): [begin, end)
  // count rows of units in stripe order, unit u being group u / kStripes of
  // stripe u % kStripes (group_tiles.h, RowsCall::across_stripes).
  bool across_stripes = false;
};

// Computes y[:, r] for rows r in [begin, end) of the (non-transposed) weight.
using RowsFn = void (*)(const MatmulJob& job, int64_t begin, int64_t end);

// Kernels per ISA; null when that ISA has none for the weight (dtype, FP8 block shape).
RowsFn scalar_rows_fn(const Weight& w);  // never null: falls back to dequantize-and-dot
RowsFn avx2_rows_fn(const Weight& w);
RowsFn avx512_rows_fn(const Weight& w);

// Q4_K / Q5_K / Q6_K / Q8_0 / Q4_0 / Q5_0 repacked into groups of 16 rows (Weight::group_rows, packed.h):
// the AVX-512 kernel, or its scalar twin for any lower level.
RowsFn q4kx16_rows_fn(Isa isa);
RowsFn q5kx16_rows_fn(Isa isa);
RowsFn q6kx16_rows_fn(Isa isa);
RowsFn block32x16_rows_fn(Isa isa, DType t);  // Q8_0, Q4_0, Q5_0

// BF16 weights against Bf16Act activations: y[t][r] is one f32 sum over the
// column pairs (2 p, 2 p + 1) in order, each adding the odd column's product,
// then the even one's (as vdpbf16ps does), the bias last. The
// AVX-512 kernel where the CPU has AVX512_BF16, else the scalar twin at
// Isa::Scalar; nullptr for the other levels (they widen the rounded
// activations instead: matmul_batch).
RowsFn bf16_dots_rows_fn(Isa isa);

// BF16 weights against f32 activations: y[t][r] is one f32 sum, a fused
// multiply-add per column in column order, the bias last. The AVX-512
// kernel, or its scalar twin at Isa::Scalar; nullptr at AVX2 (its float
// kernel folds lanes).
RowsFn bf16_fma_rows_fn(Isa isa);

// Blocks per activation scale the kernel for w expects (QuantAct::span).
int64_t act_span(const Weight& w);

// The kernel matmul() uses for this ISA (falling back to a lower level when needed).
RowsFn select_rows_fn(Isa isa, const Weight& w);

// Tokens per pass over a tile of weight rows, so the pass's activations stay in L2.
inline int64_t token_chunk(int64_t bytes_per_token) {
  const int64_t c = (int64_t{384} << 10) / (bytes_per_token > 0 ? bytes_per_token : 1);
  return c < 8 ? 8 : c;
}

}  // namespace dsinfer::kernels::cpu
