#include "kernels/cpu/cpu_backend.h"

#include <algorithm>
#include <cstring>
#include <vector>

#include "core/quant.h"
#include "core/thread_pool.h"
#include "kernels/buffer_cache.h"
#include "kernels/host_arena.h"
#include "kernels/cpu/activation.h"
#include "kernels/cpu/attention.h"
#include "kernels/cpu/group_tiles.h"
#include "kernels/cpu/matmul.h"
#include "kernels/cpu/norm.h"
#include "kernels/host_memory.h"
#include "kernels/packed.h"
#include "kernels/reference/ops.h"

namespace dsinfer::kernels {

namespace {

// Elements of silu_mul per piece: one token's MLP (a few thousand values, ~1-2
// us) runs inline, since a fork/join costs as much as the work.
constexpr int64_t kSiluGrain = 16384;
// (token, head) pairs per piece of attention's merge of split contexts: a
// pair's merge is a few microseconds at most.
constexpr int64_t kMergeGrain = 4;

bool bf16_activations(BackendOptions::Activations a, cpu::Isa isa) {
  using A = BackendOptions::Activations;
  return a == A::BF16 || (a == A::Auto && isa >= cpu::Isa::Avx512 && cpu::bf16_dots_outrun_fma());
}

bool stripes_on(BackendOptions::Stripes s) {
  using S = BackendOptions::Stripes;
  return s == S::On || (s == S::Auto && cpu::stripes_read_faster());
}

class CpuBackend final : public Backend {
 public:
  explicit CpuBackend(const BackendOptions& o)
      : isa_(cpu::resolve_isa(o.isa)),
        map_weights_(o.map_weights),
        stripe_weights_(stripes_on(o.stripe_weights)),
        matmul_cfg_{isa_, bf16_activations(o.activations, isa_)},
        pool_(o.threads) {}

  Capabilities capabilities() const override {
    return {"cpu", std::string(cpu::isa_name(isa_)), pool_.size(), true, matmul_cfg_.bf16_activations,
            stripe_weights_ && isa_ >= cpu::Isa::Avx512};
  }
  Buffer alloc(size_t bytes) override { return scratch_.alloc(bytes); }
  Buffer alloc_uninit(size_t bytes) override { return scratch_.alloc_uninit(bytes); }
  // memcpy with a null pointer is undefined even for 0 bytes (empty vectors pass null).
  void upload(const Buffer& dst, const void* src, size_t bytes, size_t offset) override {
    if (bytes) std::memcpy(static_cast<char*>(dst.data()) + offset, src, bytes);
  }
  void download(void* dst, const Buffer& src, size_t bytes, size_t offset) override {
    if (bytes) std::memcpy(dst, static_cast<const char*>(src.data()) + offset, bytes);
  }
  // Q4_K, Q8_0 and Q4_0 go into the row-group layout of the AVX-512 GEMM
  // kernels (the backend keeps the packed copy; the loader then releases the
  // original), onto the arena's huge pages. Checkpoints already stored in it
  // are copied there as they are (or with map_weights used in place); below
  // AVX-512 (whose kernels read GGUF's row layout) they are unpacked. Float
  // types stay where they are mapped (an embedding table is mostly never
  // read: copying it would only cost memory). Copies are striped where
  // stripe_groups says so.
  Weight import_weight(const Weight& w) override {
    const bool avx512 = isa_ >= cpu::Isa::Avx512;
    if (w.row0 != 0 || !packed::has_layout(w.dtype)) return w;
    if (avx512 && w.group_rows && map_weights_) return w;
    if (avx512 && stripe_groups(w)) return striped(w);
    if (avx512 == (w.group_rows != 0)) return avx512 ? copied(w) : w;
    const int64_t groups = packed::groups(w.rows);
    if (!avx512) {
      Buffer b = weights_.alloc(row_bytes(w.dtype, w.cols) * static_cast<size_t>(w.rows));
      auto* out = static_cast<uint8_t*>(b.data());
      pool_.parallel_for(groups, [&](int64_t g0, int64_t g1) { packed::unpack_groups(w, g0, g1, out); });
      owned_.push_back(b);
      Weight rows = w;
      rows.data = out;
      rows.group_rows = 0;
      return rows;
    }
    Buffer b = weights_.alloc(packed::packed_bytes(w.dtype, w.rows, w.cols));
    auto* out = static_cast<uint8_t*>(b.data());
    pool_.parallel_for(groups, [&](int64_t g0, int64_t g1) { packed::pack_groups(w, g0, g1, out); });
    owned_.push_back(b);
    return packed::packed_view(w, out);
  }

  void embed(const Weight& t, const int32_t* ids, int64_t n, float* out) override {
    run(n, 1, [&](int64_t b, int64_t e) { ref::embed(t, ids, out, b, e); });
  }
  void matmul(const MatmulArgs& a) override { cpu::matmul(a, matmul_cfg_, pool_, matmul_); }
  void matmul_batch(const MatmulArgs* a, size_t count) override { cpu::matmul_batch(a, count, matmul_cfg_, pool_, matmul_); }
  void rms_norm(const NormArgs& a) override {
    run(a.n, 1, [&](int64_t b, int64_t e) { cpu::rms_norm(a, isa_, b, e); });
  }
  void rope(const RopeArgs& a) override {
    run(a.n_tokens, 1, [&](int64_t b, int64_t e) { ref::rope(a, b, e); });
  }
  void silu_mul(const float* g, const float* u, float* o, int64_t n) override {
    run(n, kSiluGrain, [&](int64_t b, int64_t e) { cpu::silu_mul({g, u, o}, isa_, b, e); });
  }
  void add(float* y, const float* x, int64_t n) override {
    run(n, 4096, [&](int64_t b, int64_t e) { ref::add(y, x, b, e); });
  }
  void attention(const AttentionArgs& a) override {
    // One tile per thread is enough: a decode step's tile per KV head runs its
    // whole context with its prefetches running ahead across chunks, where
    // chunk splits (two per thread) cost a merge pass and a cold start per
    // chunk (attention_bench: 640 keys 32 against 41 us cached, 55-85
    // against 80-120 us from memory).
    ref::check_attention(a);
    const cpu::AttentionPlan plan = cpu::attention_plan(a, pool_.size(), cpu::amx_attention_fits(a, isa_));
    Buffer partials;
    if (plan.partial_floats) partials = scratch_.alloc_uninit(plan.partial_floats * sizeof(float));
    float* p = static_cast<float*>(partials.data());
    run(static_cast<int64_t>(plan.tiles.size()), 1, [&](int64_t b, int64_t e) { cpu::attention(a, isa_, plan, p, b, e); });
    run(plan.split_pairs, kMergeGrain, [&](int64_t b, int64_t e) { cpu::attention_merge(a, isa_, plan, p, b, e); });
  }
  void copy_rows(const RowCopyArgs& a) override {
    ref::check_row_copy(a);
    run(a.n, 8, [&](int64_t b, int64_t e) { ref::copy_rows(a, b, e); });
  }
  void scatter_add(const ScatterAddArgs& a) override {
    // Split by destination row: each source row read whole (split by column,
    // every thread read a slice of every row, 3x slower in a V2-Lite prefill).
    int64_t rows = 0;
    for (int64_t i = 0; i < a.n; ++i) rows = std::max(rows, a.idx[i] + 1);
    run(rows, 1, [&](int64_t b, int64_t e) { ref::scatter_add_rows(a, b, e); });
  }
  void moe_route(const MoeRouteArgs& a) override {
    run(a.n, 1, [&](int64_t b, int64_t e) { ref::moe_route(a, b, e); });
  }

 private:
  // w as stored, copied to the arena (in parallel: ~1 GB at load).
  Weight copied(const Weight& w) {
    const size_t bytes = w.group_rows ? packed::packed_bytes(w.dtype, w.rows, w.cols) : w.bytes();
    Buffer b = weights_.alloc(bytes);
    const auto* src = static_cast<const char*>(w.data);
    auto* dst = static_cast<char*>(b.data());
    constexpr size_t kPiece = size_t{1} << 20;
    pool_.parallel_for(static_cast<int64_t>((bytes + kPiece - 1) / kPiece), [&](int64_t p0, int64_t p1) {
      const size_t begin = static_cast<size_t>(p0) * kPiece, end = std::min(bytes, static_cast<size_t>(p1) * kPiece);
      std::memcpy(dst + begin, src + begin, end - begin);
    });
    owned_.push_back(b);
    Weight c = w;
    c.data = dst;
    return c;
  }

  // Groups per stripe of w's packed copy (HostArena::alloc_striped); 0: not
  // striped. Only matrices of whole tiles per stripe (groups a multiple of
  // kStripes) whose groups are long streams (short rows' decode tiles take
  // groups spread over the call instead, group_tiles.h).
  int64_t stripe_groups(const Weight& w) const {
    const int64_t g = packed::groups(w.rows);
    if (!stripe_weights_ || g % HostArena::kStripes) return 0;
    if (packed::group_bytes(w.dtype, w.cols) <= cpu::groups::kShortRowBytes) return 0;
    return g / HostArena::kStripes;
  }
  // w (packed or in rows) as a packed copy in stripes: each stripe's groups
  // copied, or packed from rows, at its origin.
  Weight striped(const Weight& w) {
    const int64_t gbytes = packed::group_bytes(w.dtype, w.cols), sg = stripe_groups(w);
    HostArena::Stripes s = weights_.alloc_striped(static_cast<size_t>(sg * gbytes));
    Weight out = packed::packed_view(w, static_cast<const uint8_t*>(s.mem.data()));
    out.stripe_groups = sg;
    out.stripe_bytes = static_cast<int64_t>(s.stride);
    const auto* src = static_cast<const uint8_t*>(w.data);
    pool_.parallel_for(packed::groups(w.rows), [&](int64_t g0, int64_t g1) {
      for (int64_t g = g0, e; g < g1; g = e) {  // e: the end of g's stripe or of the piece
        e = std::min(g1, (g / sg + 1) * sg);
        auto* origin = const_cast<uint8_t*>(packed::group_origin(out, g, gbytes));
        if (w.group_rows)
          std::memcpy(origin + g * gbytes, src + g * gbytes, static_cast<size_t>((e - g) * gbytes));
        else
          packed::pack_groups(w, g, e, origin);
      }
    });
    owned_.push_back(s.mem);
    return out;
  }

  template <typename F>
  void run(int64_t n, int64_t grain, const F& f) {
    pool_.parallel_for(n, f, grain);
  }
  cpu::Isa isa_;
  bool map_weights_;
  bool stripe_weights_;
  cpu::MatmulConfig matmul_cfg_;
  ThreadPool pool_;
  cpu::MatmulScratch matmul_;
  HostBufferCache scratch_;  // per-step buffers come back every step
  HostArena weights_;          // where import_weight puts them: huge pages
  std::vector<Buffer> owned_;  // repacked (or unpacked) weights handed out by import_weight
};

}  // namespace

std::unique_ptr<Backend> make_cpu_backend(const BackendOptions& opts) {
  return std::make_unique<CpuBackend>(opts);
}

}  // namespace dsinfer::kernels
