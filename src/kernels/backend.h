// The backend interface: device memory, the ops the models need, and a
// capability query. A backend is chosen once at start-up (make_backend); the
// model layer calls only these methods, so a CUDA or Ascend backend fits in by
// implementing this class. Activations are float32; weights stay in their
// stored dtype and are dequantized inside the kernels.
//
// All pointers passed to ops point into memory from this backend's alloc()
// (or weights from import_weight()). Strides are in elements.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/dtype.h"
#include "kernels/weight.h"

namespace dsinfer::kernels {

struct Capabilities {
  std::string name;        // "reference", "cpu"
  std::string isa;         // SIMD level in use, e.g. "avx512", "scalar"
  int threads = 1;
  bool unified_memory = true;  // host pointers are valid device pointers (CPU)
  bool bf16_activations = false;  // BackendOptions::activations as resolved
  bool striped_weights = false;   // BackendOptions::stripe_weights as resolved (AVX-512 levels only)
};

// Owning handle to backend memory.
class Buffer {
 public:
  Buffer() = default;
  Buffer(std::shared_ptr<void> mem, size_t bytes) : mem_(std::move(mem)), bytes_(bytes) {}
  void* data() const { return mem_.get(); }
  float* f32() const { return static_cast<float*>(mem_.get()); }
  int32_t* i32() const { return static_cast<int32_t*>(mem_.get()); }
  int64_t* i64() const { return static_cast<int64_t*>(mem_.get()); }
  size_t bytes() const { return bytes_; }

 private:
  std::shared_ptr<void> mem_;
  size_t bytes_ = 0;
};

struct MatmulArgs {
  const float* x = nullptr;  // [n, x_stride], uses the first `in` columns
  int64_t x_stride = 0;
  int64_t n = 0;
  const Weight* w = nullptr;  // [rows, cols]
  bool transpose_w = false;   // false: y = x W^T (in = cols, out = rows); true: y = x W (in = rows, out = cols)
  const float* bias = nullptr;  // [out] or null
  float* y = nullptr;  // [n, y_stride], writes the first `out` columns
  int64_t y_stride = 0;
};

struct NormArgs {
  const float* x = nullptr;  // [n, x_stride]
  int64_t x_stride = 0;
  const float* weight = nullptr;  // [dim]
  float* y = nullptr;  // [n, y_stride]; may equal x
  int64_t y_stride = 0;
  int64_t n = 0;
  int64_t dim = 0;
  float eps = 1e-6f;
};

enum class RopeStyle { NeoX /* rotate halves (Qwen2, Llama) */, Interleaved /* adjacent pairs (DeepSeek) */ };

struct RopeArgs {
  float* x = nullptr;  // token t, head h starts at x + t * token_stride + h * head_stride + offset
  int64_t n_tokens = 0;
  int64_t n_heads = 0;
  int64_t token_stride = 0;
  int64_t head_stride = 0;
  int64_t offset = 0;
  int64_t rot_dim = 0;
  const int32_t* positions = nullptr;  // [n_tokens]
  const float* inv_freq = nullptr;     // [rot_dim / 2]
  float mscale = 1.0f;  // multiplies cos and sin (YaRN)
  RopeStyle style = RopeStyle::NeoX;
};

// Causal attention of new tokens over a paged cache. Query token t (of
// sequence tok_seq[t], at position positions[t]) attends to that sequence's
// keys at positions 0..positions[t]. The key of position p of sequence s is
// at slot = block_tables[s * max_blocks + p / block_size] * block_size + p % block_size,
// k_cache + slot * k_token_stride + g * k_head_stride (likewise V).
// MLA's absorbed decode is the case n_kv_heads = 1, k_cache == v_cache.
// The caches hold float32 or bfloat16 values (cache_dtype, both K and V).
// Over a bf16 cache the queries are rounded to bf16 too (nearest even), as
// upstream's bf16 kernels take them: each score is a sum of products of two
// bf16 values (exact in float32), which CPUs with AVX512_BF16 compute two per
// lane and instruction. A backend may likewise weight the V rows by the
// softmax numerators rounded to bf16, as FlashAttention's P.V takes P (the
// CPU kernels do: relative error at most 2^-9 per weight, the normalizing sum
// from the unrounded ones). Everything else is float32 arithmetic on the
// exactly widened values.
struct AttentionArgs {
  const float* q = nullptr;
  int64_t q_token_stride = 0;
  int64_t q_head_stride = 0;
  int64_t n_tokens = 0;
  int64_t n_heads = 0;
  int64_t n_kv_heads = 0;
  int64_t qk_dim = 0;
  int64_t v_dim = 0;
  const void* k_cache = nullptr;  // F32 or BF16 (cache_dtype)
  const void* v_cache = nullptr;
  DType cache_dtype = DType::F32;
  int64_t k_token_stride = 0;
  int64_t v_token_stride = 0;
  int64_t k_head_stride = 0;
  int64_t v_head_stride = 0;
  int64_t block_size = 0;
  const int32_t* positions = nullptr;     // [n_tokens]
  const int32_t* tok_seq = nullptr;       // [n_tokens]
  const int32_t* block_tables = nullptr;  // [n_seqs, max_blocks]
  int64_t max_blocks = 0;
  float scale = 1.0f;
  float* out = nullptr;  // token t, head h at out + t * out_token_stride + h * v_dim
  int64_t out_token_stride = 0;
};

// Row copies: dst[dst_idx[i]] (or dst[i]) = src[src_idx[i]] (or src[i]), `dim` values each.
// Either side may be BF16 (a KV cache's rows): float32 -> bf16 rounds to
// nearest even (f32_to_bf16), bf16 -> float32 is exact.
struct RowCopyArgs {
  const void* src = nullptr;  // src_dtype: F32 or BF16
  int64_t src_stride = 0;
  void* dst = nullptr;  // dst_dtype: F32 or BF16
  int64_t dst_stride = 0;
  int64_t n = 0;
  int64_t dim = 0;
  const int64_t* src_idx = nullptr;  // null: identity
  const int64_t* dst_idx = nullptr;  // null: identity
  DType src_dtype = DType::F32;
  DType dst_dtype = DType::F32;
};

// dst[idx[i]] += weights[i] * src[i] for i in [0, n); idx may repeat.
struct ScatterAddArgs {
  const float* src = nullptr;  // [n, src_stride]
  int64_t src_stride = 0;
  const int64_t* idx = nullptr;
  const float* weights = nullptr;  // [n]
  float* dst = nullptr;
  int64_t dst_stride = 0;
  int64_t n = 0;
  int64_t dim = 0;
};

enum class TopkMethod { Greedy, GroupLimitedGreedy, NoauxTc };
enum class ScoringFunc { Softmax, Sigmoid };

// The MoE gate after its matrix product: scores, group-limited top-k, weights.
struct MoeRouteArgs {
  const float* logits = nullptr;  // [n, n_experts]
  const float* bias = nullptr;    // e_score_correction_bias [n_experts] or null (selection only)
  int64_t n = 0;
  int64_t n_experts = 0;
  int64_t top_k = 0;
  int64_t n_group = 1;
  int64_t topk_group = 1;
  TopkMethod method = TopkMethod::Greedy;
  ScoringFunc scoring = ScoringFunc::Softmax;
  bool norm_topk_prob = false;
  float routed_scaling_factor = 1.0f;
  bool always_scale = false;  // deepseek_v3: scale even when normalising
  int32_t* out_ids = nullptr;   // [n, top_k], descending by selection score
  float* out_weights = nullptr;  // [n, top_k]
};

class Backend {
 public:
  virtual ~Backend() = default;
  virtual Capabilities capabilities() const = 0;

  // Memory. Zero-initialised.
  virtual Buffer alloc(size_t bytes) = 0;
  // Contents unspecified: for a buffer the next op writes in full (zeroing a
  // recycled prefill buffer is a pass over memory with the other cores idle).
  virtual Buffer alloc_uninit(size_t bytes) { return alloc(bytes); }
  virtual void upload(const Buffer& dst, const void* src, size_t bytes, size_t offset = 0) = 0;
  virtual void download(void* dst, const Buffer& src, size_t bytes, size_t offset = 0) = 0;
  // Makes a checkpoint weight usable by this backend (CPU: the mmap'd view itself).
  virtual Weight import_weight(const Weight& w) = 0;

  // Ops.
  virtual void embed(const Weight& table, const int32_t* ids, int64_t n, float* out) = 0;  // out [n, cols]
  virtual void matmul(const MatmulArgs& a) = 0;
  // Independent products (a MoE layer's experts, the heads of one projection):
  // a backend may run them as one job so that small ones still fill its cores.
  // Each result equals matmul() of the same arguments.
  virtual void matmul_batch(const MatmulArgs* a, size_t count) {
    for (size_t i = 0; i < count; ++i) matmul(a[i]);
  }
  virtual void rms_norm(const NormArgs& a) = 0;
  virtual void rope(const RopeArgs& a) = 0;
  virtual void silu_mul(const float* gate, const float* up, float* out, int64_t n) = 0;  // out = silu(gate) * up
  virtual void add(float* y, const float* x, int64_t n) = 0;                             // y += x
  virtual void attention(const AttentionArgs& a) = 0;
  virtual void copy_rows(const RowCopyArgs& a) = 0;
  virtual void scatter_add(const ScatterAddArgs& a) = 0;
  virtual void moe_route(const MoeRouteArgs& a) = 0;
};

struct BackendOptions {
  std::string name = "cpu";  // "cpu" or "reference"
  int threads = 0;           // 0: all hardware threads
  // cpu backend SIMD level: "auto" (best available), "amx", "avx512", "avx2", "scalar".
  // Requesting a level the CPU lacks is an error naming it.
  std::string isa = "auto";
  // cpu backend: use quantized checkpoint weights already in the kernels'
  // layout where they are mapped (less memory, slower decode: 4 KB pages)
  // instead of copying them onto huge pages.
  bool map_weights = false;
  // cpu backend: cut the packed copies of quantized matrices into stripes
  // (HostArena::alloc_striped), or keep one contiguous copy each (Off). Auto:
  // stripes where they read faster (cpu::stripes_read_faster: AMD CPUs).
  enum class Stripes : uint8_t { Off, On, Auto };
  Stripes stripe_weights = Stripes::Auto;
  // cpu backend: what products with bf16 weights multiply them with.
  // BF16: activations rounded to bf16 (nearest even), multiplied by the CPU's
  // bf16 dot products (vdpbf16ps, AVX512_BF16): twice the multiply-adds per
  // instruction of f32 FMA, so ~2x the prefill of a bf16 model; what
  // llama.cpp's bf16 matmuls, vLLM's CPU backend and GPU inference use. F32:
  // float32 activations, so a float checkpoint's logits match the float32
  // reference to 1e-3 (the library's default, which the reference tests
  // run). Auto (the command line's default): BF16 where the SIMD level in use
  // has bf16 dot products that outrun f32 FMA (cpu::bf16_dots_outrun_fma), F32
  // elsewhere (there rounding would cost precision and save no time).
  enum class Activations : uint8_t { F32, BF16, Auto };
  Activations activations = Activations::F32;
};

// Throws naming the supported backends when `name` is unknown.
std::unique_ptr<Backend> make_backend(const BackendOptions& opts);

}  // namespace dsinfer::kernels
