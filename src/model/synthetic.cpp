#include "model/synthetic.h"

#include <cmath>
#include <cstring>

#include "core/error.h"
#include "core/quant.h"
#include "core/thread_pool.h"
#include "io/safetensors.h"
#include "model/checkpoint_layout.h"

namespace dsinfer::model {

namespace {

struct SplitMix {
  uint64_t s;
  uint64_t next() {
    uint64_t z = (s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
  float uniform() { return static_cast<float>(next() >> 40) * (2.0f / 16777216.0f) - 1.0f; }  // [-1, 1)
};

// Projections whose width does not fit the block fall back as `dsinfer quantize` does.
DType stored_dtype(TensorRole role, DType weights, int64_t cols) {
  switch (role) {
    case TensorRole::Projection:
    case TensorRole::LmHead:
      return fit_block_type(weights, cols);
    case TensorRole::Embedding:
    case TensorRole::Router:
      return DType::BF16;
    default:
      return DType::F32;
  }
}

// Magnitude of a role's values: unit-variance outputs for unit-variance inputs.
float amplitude(const TensorSpec& t) {
  const float cols = t.shape.size() > 1 ? static_cast<float>(t.shape[1]) : 1.0f;
  switch (t.role) {
    case TensorRole::Embedding:
      return 1.0f;
    case TensorRole::Router:
      return 2.0f * std::sqrt(3.0f / cols);
    case TensorRole::Norm:
      return 0.1f;
    case TensorRole::Bias:
      return 0.02f;
    default:
      return std::sqrt(3.0f / cols);
  }
}

// Fills one row of a block-quantized tensor with random codes and scales so
// values are roughly uniform in [-a, a].
void fill_block_row(DType t, float a, SplitMix& r, uint8_t* row, int64_t cols) {
  const size_t bytes = row_bytes(t, cols);
  for (size_t i = 0; i < bytes; i += 8) {
    const uint64_t v = r.next();
    std::memcpy(row + i, &v, std::min<size_t>(8, bytes - i));
  }
  const int64_t blocks = cols / block_elems(t);
  for (int64_t b = 0; b < blocks; ++b) {
    uint8_t* blk = row + static_cast<size_t>(b) * block_bytes(t);
    if (t == DType::Q8_0 || t == DType::Q4_0 || t == DType::Q5_0) {
      const uint16_t d = f32_to_f16(a / (t == DType::Q8_0 ? 127.0f : t == DType::Q5_0 ? 16.0f : 8.0f));
      std::memcpy(blk, &d, 2);
    } else if (t == DType::Q6_K) {  // |sc| in [64, 127], random signs: |d * sc * (q - 32)| <= a
      const uint16_t d = f32_to_f16(a / (127.0f * 32.0f));
      for (int j = 0; j < 16; ++j) {
        const uint8_t s = blk[192 + j];
        blk[192 + j] = static_cast<uint8_t>((s & 0x80) ? -(64 + (s & 63)) : 64 + (s & 63));
      }
      std::memcpy(blk + 208, &d, 2);
    } else {  // Q4_K / Q5_K: sc, m in [0, 63]; mean of d*sc*q ~ a/2 offset by dmin*m ~ a/2
      const float qmax = t == DType::Q5_K ? 31.0f : 15.0f;
      const uint16_t d = f32_to_f16(a / (qmax * 32.0f)), dmin = f32_to_f16(a / 64.0f);
      std::memcpy(blk, &d, 2);
      std::memcpy(blk + 2, &dmin, 2);
    }
  }
}

void fill_row(DType t, const TensorSpec& spec, SplitMix& r, uint8_t* row, int64_t cols) {
  const float a = amplitude(spec);
  const float base = spec.role == TensorRole::Norm ? 1.0f : 0.0f;
  if (is_block_quant(t)) return fill_block_row(t, a, r, row, cols);
  for (int64_t c = 0; c < cols; ++c) {
    const float v = base + a * r.uniform();
    switch (t) {
      case DType::F32:
        std::memcpy(row + 4 * c, &v, 4);
        break;
      case DType::BF16: {
        const uint16_t h = f32_to_bf16(v);
        std::memcpy(row + 2 * c, &h, 2);
        break;
      }
      case DType::F8_E4M3: {
        // Codes below 0x58 decode to at most 15 in magnitude (never NaN); with scale a/15, |v| <= a.
        const auto code = static_cast<uint8_t>(r.next() % 0x58) | static_cast<uint8_t>(r.next() & 0x80);
        row[c] = code;
        break;
      }
      default:
        fail("synthetic weights of dtype ", dtype_name(t), " are not supported");
    }
  }
}

io::TensorData make_tensor(const TensorSpec& spec, DType t, uint64_t seed, ThreadPool& pool) {
  const int64_t rows = spec.shape.size() > 1 ? spec.shape[0] : 1;
  const int64_t cols = spec.shape.back();
  io::TensorData d{spec.name, t, spec.shape, std::vector<uint8_t>(row_bytes(t, cols) * static_cast<size_t>(rows))};
  pool.parallel_for(rows, [&](int64_t b, int64_t e) {
    SplitMix r{seed ^ (static_cast<uint64_t>(b) * 0x632be59bd9b4e019ull)};
    for (int64_t row = b; row < e; ++row)
      fill_row(t, spec, r, d.bytes.data() + static_cast<size_t>(row) * row_bytes(t, cols), cols);
  }, 64);
  return d;
}

}  // namespace

size_t synthetic_weight_bytes(const io::ModelConfig& cfg, DType weight_dtype) {
  size_t n = 0;
  for (const TensorSpec& t : checkpoint_layout(cfg)) {
    const int64_t rows = t.shape.size() > 1 ? t.shape[0] : 1;
    n += row_bytes(stored_dtype(t.role, weight_dtype, t.shape.back()), t.shape.back()) * static_cast<size_t>(rows);
  }
  return n;
}

io::ModelConfig synthetic_model_config(const SyntheticOptions& opts) {
  io::ModelConfig cfg = synthetic_config(opts.preset, opts.vocab_size);
  if (opts.weight_dtype == DType::F8_E4M3) {
    cfg.quantization_config.quant_method = "fp8";
    cfg.quantization_config.weight_block_size = {128, 128};
  }
  return cfg;
}

std::vector<io::TensorData> synthetic_tensors(const io::ModelConfig& cfg, const SyntheticOptions& opts) {
  ThreadPool pool(0);
  std::vector<io::TensorData> tensors;
  uint64_t seed = opts.seed;
  for (const TensorSpec& t : checkpoint_layout(cfg)) {
    const DType dt = stored_dtype(t.role, opts.weight_dtype, t.shape.back());
    tensors.push_back(make_tensor(t, dt, seed++ * 0x9e3779b97f4a7c15ull, pool));
    if (dt == DType::F8_E4M3) {
      const int64_t sr = (t.shape[0] + 127) / 128, sc = (t.shape[1] + 127) / 128;
      std::vector<float> s(static_cast<size_t>(sr * sc), amplitude(t) / 15.0f);
      io::TensorData st{t.name + "_scale_inv", DType::F32, {sr, sc}, std::vector<uint8_t>(s.size() * 4)};
      std::memcpy(st.bytes.data(), s.data(), st.bytes.size());
      tensors.push_back(std::move(st));
    }
  }
  return tensors;
}

std::unique_ptr<Model> make_synthetic_model(const SyntheticOptions& opts, kernels::Backend& backend) {
  io::ModelConfig cfg = synthetic_model_config(opts);
  std::vector<io::TensorData> tensors = synthetic_tensors(cfg, opts);
  return Model::create(std::move(cfg), io::Checkpoint::from_memory("synthetic:" + opts.preset, std::move(tensors)),
                       backend);
}

}  // namespace dsinfer::model
