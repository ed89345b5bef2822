#include "kernels/cpu/matmul.h"

#include <algorithm>
#include <utility>

#include "core/dtype.h"
#include "core/quant.h"
#include "kernels/cpu/group_tiles.h"
#include "kernels/packed.h"
#include "kernels/reference/ops.h"

namespace dsinfer::kernels::cpu {

float dot(const float* a, const float* b, int64_t n) {
  float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (int j = 0; j < 8; ++j) acc[j] += a[i + j] * b[i + j];
  float tail = 0;
  for (; i < n; ++i) tail += a[i] * b[i];
  return ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7])) + tail;
}

int64_t act_span(const Weight& w) {
  return (w.group_rows && (w.dtype == DType::Q4_K || w.dtype == DType::Q5_K)) || w.dtype == DType::Q6_K ? kSuperSpan : 1;
}

RowsFn select_rows_fn(Isa isa, const Weight& w) {
  if (w.group_rows) {
    if (w.dtype == DType::Q4_K) return q4kx16_rows_fn(isa);
    if (w.dtype == DType::Q6_K) return q6kx16_rows_fn(isa);
    return w.dtype == DType::Q5_K ? q5kx16_rows_fn(isa) : block32x16_rows_fn(isa, w.dtype);
  }
  RowsFn f = w.dtype == DType::BF16 ? bf16_fma_rows_fn(isa) : nullptr;
  if (f) return f;
  if (isa >= Isa::Avx512) f = avx512_rows_fn(w);
  if (!f && isa >= Isa::Avx2) f = avx2_rows_fn(w);
  return f ? f : scalar_rows_fn(w);
}

namespace {

constexpr int64_t kChunkRows = 16;  // work unit of the row-layout kernels
// Tokens whose compute costs about as much time as reading the weights once
// (the cost model of unit_cost).
constexpr int64_t kReadTokens = 4;
// Activations up to this many values are quantized by the calling thread: a
// few microseconds, less than handing half of them to another thread costs
// (decode: MoE down inputs, MLA's per-head products; 3 forks per V2-Lite layer).
constexpr int64_t kSerialQuantize = int64_t{32} << 10;
// Except one input of a batched decode's 8 tokens (8 x 1536 values): split by
// token between the threads, its steps ran ~0.7% faster (alternating 2-step
// blocks in one run, 6 runs: 0.991 to 1.003 of the time, median 0.992).
constexpr int64_t kSerialQuantizeBatch = int64_t{8} << 10;
constexpr int64_t kBatchInputTokens = 8;

// One product of a batch: its kernel and its share of the batch's work units
// (row groups of a repacked weight, else chunks of kChunkRows rows).
struct Part {
  MatmulJob job;
  MatmulArgs rounded;  // the arguments with x rounded to bf16 (round_inputs, without vdpbf16ps)
  RowsFn f = nullptr;
  int64_t unit_rows = kChunkRows;
  int64_t off = 0;          // rows of the first unit before the view (repacked views not starting a group)
  int64_t units = 0;
  int64_t unit_cost = 1;    // see unit_cost
  int64_t first_cost = 0;   // prefix sum of units * unit_cost over the batch
  // Pieces of a decode product start on multiples of its kernel's widest tile
  // (group_tiles.h): a piece of 12 groups ran its last 4 in a tile reading
  // half as many streams (the 1.5B's down and o_proj: 1/3 of their groups).
  int64_t align = 1;
  // The weight bytes from unit u (aligned down) to the end of the view; {}
  // for the transposed products (reference kernel).
  ReadRegion from_unit(int64_t u) const {
    const Weight& w = *job.a->w;
    if (job.a->transpose_w) return {};
    const int64_t r0 = std::max<int64_t>(0, u / align * align * unit_rows - off);
    const auto* base = static_cast<const uint8_t*>(w.data);
    if (!w.group_rows) {
      const auto rb = static_cast<int64_t>(row_bytes(w.dtype, w.cols));
      return {base + r0 * rb, (w.rows - r0) * rb};
    }
    const int64_t gbytes = packed::group_bytes(w.dtype, w.cols);
    if (job.across_stripes) {  // from unit u's group to the end of its stripe
      const int64_t j = u / align * align / (packed::groups(w.rows) / w.stripe_groups);
      return {packed::group_ptr(w, j, gbytes), (w.stripe_groups - j) * gbytes};
    }
    const int64_t g = (w.row0 + r0) / w.group_rows, g1 = (w.row0 + w.rows + w.group_rows - 1) / w.group_rows;
    const int64_t run_end = w.stripe_groups ? std::min(g1, (g / w.stripe_groups + 1) * w.stripe_groups) : g1;
    return {packed::group_ptr(w, g, gbytes), (run_end - g) * gbytes};
  }
  // The units whose cost starts in [b, e) of the batch's cost range, rounded
  // to multiples of align: each unit falls in exactly one range however the
  // range is cut.
  std::pair<int64_t, int64_t> units_in(int64_t b, int64_t e) const {
    const auto first_from = [&](int64_t c) {
      const int64_t u = std::clamp<int64_t>((c - first_cost + unit_cost - 1) / unit_cost, 0, units);
      return u == units ? units : std::min(units, (u + align / 2) / align * align);
    };
    return {first_from(b), first_from(e)};
  }
};

// What a work unit costs, in 64-byte lines of weights times (kReadTokens +
// tokens): a decode product takes the time of its reads, a long one that of
// its compute. Pieces of equal cost then take about equal time when a batch
// mixes widths, types and token counts (MoE experts: the routed experts'
// Q4_0 down products beside the shared experts' twice-as-wide Q4_K one; in
// prefill, experts with few tokens beside busy ones). Split by unit count,
// one thread was left with the wide units and the other waited.
int64_t unit_cost(const MatmulArgs& a, int64_t unit_rows) {
  const auto bytes = static_cast<int64_t>(row_bytes(a.w->dtype, a.w->cols));
  return std::max<int64_t>(1, bytes * unit_rows / 64) * (kReadTokens + a.n);
}

// Decode over a whole striped weight goes tile by tile across its stripes
// (MatmulJob::across_stripes): units in stripe order, so that each piece of
// the call reads the same groups of every stripe.
bool across_stripes(const Weight& w, int64_t n) {
  if (!w.stripe_groups || w.row0 != 0 || n > 2) return false;
  const int64_t g = packed::groups(w.rows);
  return g % w.stripe_groups == 0 && g / w.stripe_groups % groups::decode_tile_groups(n) == 0;
}

bool same_input(const MatmulArgs& a, const MatmulArgs& b) {
  return a.x == b.x && a.x_stride == b.x_stride && a.n == b.n && a.w->cols == b.w->cols && act_span(*a.w) == act_span(*b.w);
}

// The distinct inputs of the products `want` picks: owner[k] is the first
// product taking input k, slot[i] = k + 1 for a picked product i (0 for the
// others), first[] the token prefix sums over the inputs.
struct Inputs {
  std::vector<size_t> owner, slot;
  std::vector<int64_t> first;
  int64_t values = 0, most = 0;  // values over all inputs; the tokens of the longest
};

template <class Want>
Inputs distinct_inputs(const MatmulArgs* a, size_t count, Want want) {
  Inputs in;
  in.slot.assign(count, 0);
  for (size_t i = 0; i < count; ++i) {
    if (!want(a[i]) || a[i].n == 0 || a[i].transpose_w) continue;
    size_t k = 0;
    while (k < in.owner.size() && !same_input(a[in.owner[k]], a[i])) ++k;
    if (k == in.owner.size()) in.owner.push_back(i);
    in.slot[i] = k + 1;
  }
  in.first.assign(in.owner.size() + 1, 0);
  for (size_t k = 0; k < in.owner.size(); ++k) {
    const MatmulArgs& o = a[in.owner[k]];
    in.first[k + 1] = in.first[k] + o.n;
    in.values += o.n * o.w->cols;
    in.most = std::max(in.most, o.n);
  }
  return in;
}

// fn(k, t0, t1) for tokens [t0, t1) of every input k, on the pool unless small.
template <class Fn>
void for_input_tokens(const Inputs& in, ThreadPool& pool, Fn fn) {
  const auto rows = [&](int64_t b, int64_t e) {
    for (size_t k = 0; k < in.owner.size(); ++k) {
      const int64_t t0 = std::max(b, in.first[k]) - in.first[k], t1 = std::min(e, in.first[k + 1]) - in.first[k];
      if (t0 < t1) fn(k, t0, t1);
    }
  };
  const int64_t serial = in.most >= kBatchInputTokens ? kSerialQuantizeBatch : kSerialQuantize;
  if (in.values <= serial) return rows(0, in.first.back());
  pool.parallel_for(in.first.back(), rows, 4);
}

// Quantizes the activations of every integer product, once per distinct input
// (the gate and up projections of one x share them, when their kernels want
// the same span), all in one pass.
void quantize_inputs(const MatmulArgs* a, size_t count, Isa isa, ThreadPool& pool, std::vector<Part>& parts,
                     std::vector<QuantAct>& acts) {
  const Inputs in = distinct_inputs(a, count, [](const MatmulArgs& m) { return is_block_quant(m.w->dtype); });
  if (in.owner.empty()) return;
  if (acts.size() < in.owner.size()) acts.resize(in.owner.size());  // before taking pointers into it
  for (size_t k = 0; k < in.owner.size(); ++k)
    acts[k].resize(a[in.owner[k]].n, a[in.owner[k]].w->cols, act_span(*a[in.owner[k]].w));
  for (size_t i = 0; i < count; ++i)
    if (in.slot[i]) parts[i].job.act = &acts[in.slot[i] - 1];
  for_input_tokens(in, pool, [&](size_t k, int64_t t0, int64_t t1) {
    quantize_act(isa, a[in.owner[k]].x, a[in.owner[k]].x_stride, t0, t1, acts[k]);
  });
}

// bf16_activations: rounds the input of every product with bf16 weights, once
// per distinct input. With vdpbf16ps the kernels take them as bf16
// (MatmulJob::xb); otherwise the float kernels take them widened back to f32
// (Part::rounded), which multiplies the same values.
void round_inputs(const MatmulArgs* a, size_t count, const MatmulConfig& cfg, ThreadPool& pool,
                  std::vector<Part>& parts, MatmulScratch& s) {
  const Inputs in = distinct_inputs(a, count, [](const MatmulArgs& m) { return m.w->dtype == DType::BF16; });
  if (in.owner.empty()) return;
  const bool dots = bf16_dots_rows_fn(cfg.isa) != nullptr;
  if (s.bf16.size() < in.owner.size()) s.bf16.resize(in.owner.size());
  std::vector<int64_t> at(in.owner.size() + 1, 0);  // offsets of the widened inputs in s.rounded
  for (size_t k = 0; k < in.owner.size(); ++k) {
    const MatmulArgs& o = a[in.owner[k]];
    s.bf16[k].resize(o.n, o.w->cols);
    at[k + 1] = at[k] + (dots ? 0 : o.n * o.w->cols);
  }
  if (!dots) s.rounded.resize(static_cast<size_t>(at.back()));
  for (size_t i = 0; i < count; ++i) {
    if (!in.slot[i]) continue;
    const size_t k = in.slot[i] - 1;
    Part& p = parts[i];
    if (dots) {
      p.job.xb = &s.bf16[k];
      continue;
    }
    p.rounded = a[i];
    p.rounded.x = s.rounded.data() + at[k];
    p.rounded.x_stride = a[i].w->cols;
    p.job.a = &p.rounded;
  }
  for_input_tokens(in, pool, [&](size_t k, int64_t t0, int64_t t1) {
    const MatmulArgs& o = a[in.owner[k]];
    round_act_bf16(cfg.isa, o.x, o.x_stride, t0, t1, s.bf16[k]);
    if (dots) return;
    float* out = s.rounded.data() + at[k];
    for (int64_t t = t0; t < t1; ++t)
      for (int64_t c = 0; c < o.w->cols; ++c) out[t * o.w->cols + c] = bf16_to_f32(s.bf16[k].value(t, c));
  });
}

// Calls whose products have up to kBatchTokens tokens read their weights at
// the memory's pace: worth reading ahead for. Each thread reads ahead at most
// kReadAheadBytes (about its L2; measured on the dev box, 1.5B q4_k decode
// steps: 256 KiB to 2 MiB all ~1.5% faster, 128 KiB ~1%).
constexpr int64_t kReadAheadBytes = int64_t{1} << 20;

// Where each thread's first piece of the call over `parts` (costs [0, total))
// starts: thread t takes piece t, as parallel_for deals them (the caller
// first). Empty for calls too long to be bound by memory.
void first_reads(const std::vector<Part>& parts, int64_t total, int threads, MatmulScratch& s) {
  s.starts.clear();
  for (const Part& p : parts)
    if (p.job.a->n > groups::kBatchTokens) return;
  ThreadPool::piece_starts(total, 1, threads, s.pieces);
  for (size_t t = 0; t + 1 < s.pieces.size() && t < static_cast<size_t>(threads); ++t) {
    const int64_t c = s.pieces[t];
    ReadRegion r;
    for (const Part& p : parts)
      if (p.units && c >= p.first_cost && c < p.first_cost + p.units * p.unit_cost) r = p.from_unit((c - p.first_cost) / p.unit_cost);
    r.bytes = std::min(r.bytes, kReadAheadBytes);
    s.starts.push_back(r);
  }
}

// Sets the pool's idle threads reading the first lines of the call expected
// after this one (read_ahead.h).
void read_ahead(const MatmulArgs* a, const std::vector<Part>& parts, int64_t total, ThreadPool& pool, MatmulScratch& s) {
  first_reads(parts, total, pool.size(), s);
  const std::vector<ReadRegion>* next = s.read_ahead.observe(a[0].w->data, s.starts);
  if (!next) return;
  for (size_t t = 0; t < next->size(); ++t) pool.warm(static_cast<int>(t), (*next)[t].p, (*next)[t].bytes);
}

}  // namespace

void matmul_batch(const MatmulArgs* a, size_t count, const MatmulConfig& cfg, ThreadPool& pool, MatmulScratch& scratch) {
  const Isa isa = cfg.isa;
  std::vector<Part> parts(count);
  for (size_t i = 0; i < count; ++i) parts[i].job.a = &a[i];
  quantize_inputs(a, count, isa, pool, parts, scratch.acts);
  if (cfg.bf16_activations) round_inputs(a, count, cfg, pool, parts, scratch);
  int64_t total = 0;  // cost over the batch
  for (size_t i = 0; i < count; ++i) {
    Part& p = parts[i];
    const Weight& w = *a[i].w;
    p.first_cost = total;
    if (a[i].n == 0) continue;  // nothing to compute
    if (a[i].transpose_w) {  // only MLA's absorbed query (no longer on the decode path); reference kernel
      p.units = (ref::matmul_out_dim(a[i]) + kChunkRows - 1) / kChunkRows;
    } else {
      p.f = p.job.xb ? bf16_dots_rows_fn(isa) : select_rows_fn(isa, w);
      if (w.group_rows) {
        p.unit_rows = w.group_rows;
        p.off = w.row0 % w.group_rows;
        p.align = groups::decode_tile_groups(a[i].n);
        p.job.across_stripes = across_stripes(w, a[i].n);
      }
      p.units = (p.off + w.rows + p.unit_rows - 1) / p.unit_rows;
    }
    p.unit_cost = unit_cost(a[i], p.unit_rows);
    total += p.units * p.unit_cost;
  }
  if (pool.size() > 1) read_ahead(a, parts, total, pool, scratch);
  pool.parallel_for(total, [&](int64_t b, int64_t e) {
    for (const Part& p : parts) {
      const auto [u0, u1] = p.units_in(b, e);
      if (u0 >= u1) continue;
      const int64_t out = p.job.a->transpose_w ? ref::matmul_out_dim(*p.job.a) : p.job.a->w->rows;
      const int64_t r0 = std::max<int64_t>(0, u0 * p.unit_rows - p.off), r1 = std::min(out, u1 * p.unit_rows - p.off);
      if (p.f)
        p.f(p.job, r0, r1);
      else
        ref::matmul(*p.job.a, r0, r1);
    }
  });
}

void matmul(const MatmulArgs& a, int64_t begin, int64_t end) {
  if (a.transpose_w) return ref::matmul(a, begin, end);
  static const Isa isa = best_isa();
  const Weight& w = *a.w;
  thread_local QuantAct act;
  MatmulJob job{&a, nullptr};
  if (is_block_quant(w.dtype) && a.n > 0) {
    act.resize(a.n, w.cols, act_span(w));
    quantize_act(isa, a.x, a.x_stride, 0, a.n, act);
    job.act = &act;
  }
  select_rows_fn(isa, w)(job, begin, end);
}

}  // namespace dsinfer::kernels::cpu
