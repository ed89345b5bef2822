#include "model/gguf_model.h"

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <optional>

#include "core/error.h"
#include "core/quant.h"
#include "io/gguf.h"
#include "io/gguf_config.h"
#include "io/ggml_dequant.h"
#include "model/checkpoint_layout.h"
#include "model/gguf_names.h"
#include "model/rope.h"

namespace dsinfer::model {

namespace {

std::string shape_str(const std::vector<uint64_t>& dims) {
  std::string s = "[";
  for (size_t k = 0; k < dims.size(); ++k) s += (k ? ", " : "") + std::to_string(dims[k]);
  return s + "]";
}

// ggml's dims (innermost first) of a Hugging Face shape, with the expert count outermost for merged experts.
std::vector<uint64_t> ggml_dims(const std::vector<int64_t>& shape, int64_t n_expert) {
  std::vector<uint64_t> d(shape.rbegin(), shape.rend());
  if (n_expert > 0) d.push_back(static_cast<uint64_t>(n_expert));
  return d;
}

// The rows of a [rows, row_bytes] buffer moved between llama.cpp's RoPE order and Hugging Face's.
std::vector<uint8_t> reorder_rows(const uint8_t* in, int64_t rows, size_t row_size, int64_t heads, bool to_hf) {
  std::vector<uint8_t> out(static_cast<size_t>(rows) * row_size);
  const int64_t head_dim = rows / heads;
  for (int64_t g = 0; g < rows; ++g) {
    const int64_t h = hf_row_of_gguf_row(g, head_dim);
    const int64_t dst = to_hf ? h : g, src = to_hf ? g : h;
    std::memcpy(out.data() + static_cast<size_t>(dst) * row_size, in + static_cast<size_t>(src) * row_size, row_size);
  }
  return out;
}

// A GGUF tensor's type: one the kernels compute with (native), or one dsinfer
// only reads (io/ggml_dequant.h), converted to Q8_0 at load.
struct SrcType {
  uint32_t ggml = 0;
  std::optional<DType> native;

  size_t row_size(int64_t cols) const {
    return native ? row_bytes(*native, cols)
                  : static_cast<size_t>(cols / io::ggml_block_values(ggml) * io::ggml_block_bytes(ggml));
  }
  void read(const uint8_t* row, int64_t cols, float* out) const {
    if (native)
      dequantize_row(*native, row, cols, out);
    else
      io::ggml_dequantize_row(ggml, row, cols, out);
  }
};

// [rows, cols] of a read-only type (Q4_1, Q5_1) as Q8_0: rounded once more,
// to Q8_0's step of 1/254 of a block's range.
std::vector<uint8_t> to_q8_0(const SrcType& st, const uint8_t* data, int64_t rows, int64_t cols) {
  const size_t in_row = st.row_size(cols), out_row = row_bytes(DType::Q8_0, cols);
  std::vector<uint8_t> out(out_row * static_cast<size_t>(rows));
  std::vector<float> row(static_cast<size_t>(cols));
  for (int64_t r = 0; r < rows; ++r) {
    const uint8_t* in = data + static_cast<size_t>(r) * in_row;
    uint8_t* o = out.data() + static_cast<size_t>(r) * out_row;
    st.read(in, cols, row.data());
    quantize_row(DType::Q8_0, row.data(), cols, o);
  }
  return out;
}

struct Importer {
  const io::GgufShards& f;
  const io::ModelConfig& cfg;
  io::Checkpoint::Parts& parts;

  // The tensor, checked to have the dims `want` (ggml order) and a type dsinfer reads.
  const io::GgufTensorInfo& tensor(const std::string& name, const std::string& hf_name, std::vector<uint64_t> want,
                                   SrcType& st) const {
    const io::GgufTensorInfo* t = f.find_tensor(name);
    if (!t) fail("GGUF ", f.path(), ": tensor ", name, " (", hf_name, ") is missing");
    st = {t->type, io::dtype_of_ggml(t->type)};
    if (!st.native && !io::ggml_dequantizable(t->type))
      fail("GGUF ", f.path(), ": tensor ", name, " is ", io::ggml_type_name(t->type),
           ", a type dsinfer cannot read (supported: F32, F16, BF16, Q8_0, Q4_0, Q5_0, Q4_K, Q5_K, Q6_K; Q4_1 and "
           "Q5_1 are converted to Q8_0 at load)");
    if (t->dims != want)
      fail("GGUF ", f.path(), ": tensor ", name, " has dims ", shape_str(t->dims), ", expected ", shape_str(want),
           " (ggml order) for ", hf_name, " from the file's metadata");
    return *t;
  }

  // MLA files (llama.cpp since its MLA rework) split kv_b_proj into attn_k_b
  // (each head's key rows transposed) and attn_v_b: joined back here.
  void add_split_kv_b(const TensorSpec& s, const std::string& blk) const {
    const int64_t heads = cfg.num_attention_heads, nope = cfg.qk_nope_head_dim, v = cfg.v_head_dim;
    const int64_t rank = cfg.kv_lora_rank;
    const auto u = [](int64_t x) { return static_cast<uint64_t>(x); };
    SrcType kt, vt;
    const auto& k_b = tensor(blk + "attn_k_b.weight", s.name, {u(nope), u(rank), u(heads)}, kt);
    const auto& v_b = tensor(blk + "attn_v_b.weight", s.name, {u(rank), u(v), u(heads)}, vt);
    const auto floating = [](const SrcType& t) {
      return t.native == DType::F32 || t.native == DType::F16 || t.native == DType::BF16;
    };
    // Float sources stay exact; integer blocks become F16, finer than their own rounding.
    const DType out = kt.native == DType::BF16 && vt.native == DType::BF16 ? DType::BF16
                      : floating(kt) && floating(vt)                       ? DType::F32
                                                                           : DType::F16;
    std::vector<float> kv(static_cast<size_t>(heads * (nope + v) * rank));  // [heads * (nope + v), rank]
    std::vector<float> row(static_cast<size_t>(std::max(nope, rank)));
    const size_t k_row = kt.row_size(nope), v_row = vt.row_size(rank);
    for (int64_t h = 0; h < heads; ++h) {
      float* head = kv.data() + static_cast<size_t>(h * (nope + v) * rank);
      for (int64_t r = 0; r < rank; ++r) {
        kt.read(k_b.data + static_cast<size_t>(h * rank + r) * k_row, nope, row.data());
        for (int64_t i = 0; i < nope; ++i) head[i * rank + r] = row[static_cast<size_t>(i)];
      }
      for (int64_t i = 0; i < v; ++i) vt.read(v_b.data + static_cast<size_t>(h * v + i) * v_row, rank, head + (nope + i) * rank);
    }
    const int64_t rows = heads * (nope + v);
    std::vector<uint8_t> bytes(row_bytes(out, rank) * static_cast<size_t>(rows));
    for (int64_t r = 0; r < rows; ++r)
      quantize_row(out, kv.data() + r * rank, rank, bytes.data() + static_cast<size_t>(r) * row_bytes(out, rank));
    parts.owned.push_back({s.name, out, s.shape, std::move(bytes)});
  }

  void add(const TensorSpec& s) const {
    const GgufLocation loc = gguf_location(cfg, s.name);
    if (s.name.ends_with(".kv_b_proj.weight") && !f.find_tensor(loc.name)) {
      const std::string blk = loc.name.substr(0, loc.name.size() - std::string("attn_kv_b.weight").size());
      if (f.find_tensor(blk + "attn_k_b.weight")) return add_split_kv_b(s, blk);
    }
    SrcType st;
    const io::GgufTensorInfo& t = tensor(loc.name, s.name, ggml_dims(s.shape, loc.expert >= 0 ? cfg.n_routed_experts : 0), st);
    const int64_t cols = s.shape.back(), rows = s.shape.size() == 2 ? s.shape[0] : 1;
    const size_t bytes = st.row_size(cols) * static_cast<size_t>(rows);
    const uint8_t* data = t.data + (loc.expert >= 0 ? static_cast<size_t>(loc.expert) * bytes : 0);
    if (!st.native) {
      io::TensorData q{s.name, DType::Q8_0, s.shape, to_q8_0(st, data, rows, cols)};
      if (loc.rope_heads > 0) q.bytes = reorder_rows(q.bytes.data(), rows, row_bytes(DType::Q8_0, cols), loc.rope_heads, true);
      parts.owned.push_back(std::move(q));
      return;
    }
    const DType dt = *st.native;
    if (loc.rope_heads > 0) {
      const bool matrix = s.shape.size() == 2;  // a bias reorders its values
      const size_t unit = matrix ? row_bytes(dt, cols) : dtype_size(dt);
      parts.owned.push_back({s.name, dt, s.shape, reorder_rows(data, matrix ? rows : cols, unit, loc.rope_heads, true)});
      return;
    }
    parts.views.push_back({s.name, dt, s.shape, data, bytes, f.path()});
  }
};

// A 1-D tensor as F32, as llama.cpp stores norms and biases.
io::TensorData as_f32(io::TensorData t) {
  if (t.dtype == DType::F32) return t;
  std::vector<uint8_t> out(static_cast<size_t>(t.shape[0]) * 4);
  dequantize_row(t.dtype, t.bytes.data(), t.shape[0], reinterpret_cast<float*>(out.data()));
  return {t.name, DType::F32, t.shape, std::move(out)};
}

struct ExpertSlices {
  std::map<int64_t, io::TensorData> by_expert;
};

void add_merged(const std::string& name, ExpertSlices& e, int64_t n_expert, io::GgufWriter& w) {
  if (static_cast<int64_t>(e.by_expert.size()) != n_expert || e.by_expert.begin()->first != 0)
    fail("GGUF export: ", name, " has ", e.by_expert.size(), " of ", n_expert, " experts");
  const io::TensorData& first = e.by_expert.begin()->second;
  std::vector<uint8_t> bytes;
  bytes.reserve(first.bytes.size() * static_cast<size_t>(n_expert));
  for (auto& [idx, t] : e.by_expert) {
    if (t.dtype != first.dtype || t.shape != first.shape)
      fail("GGUF export: expert ", idx, " of ", name, " differs in type or shape from expert 0 (", t.name, ")");
    bytes.insert(bytes.end(), t.bytes.begin(), t.bytes.end());
    std::vector<uint8_t>().swap(t.bytes);
  }
  w.add_tensor(name, first.dtype, ggml_dims(first.shape, n_expert), std::move(bytes));
}

// Llama 3 scaling as llama.cpp stores it: the divisor of each inverse frequency.
void add_rope_freqs(const io::ModelConfig& cfg, io::GgufWriter& w) {
  io::ModelConfig plain = cfg;
  plain.rope_scaling = {};
  const RopeTable base = make_rope_table(plain, cfg.head_dim), scaled = make_rope_table(cfg, cfg.head_dim);
  std::vector<uint8_t> bytes(base.inv_freq.size() * 4);
  auto* f = reinterpret_cast<float*>(bytes.data());
  for (size_t i = 0; i < base.inv_freq.size(); ++i) f[i] = base.inv_freq[i] / scaled.inv_freq[i];
  w.add_tensor("rope_freqs.weight", DType::F32, {base.inv_freq.size()}, std::move(bytes));
}

// kv_b_proj as llama.cpp's MLA files hold it: attn_k_b (each head's key rows
// transposed, in the block type that fits their qk_nope_head_dim width) and
// attn_v_b (the value rows as they are).
void add_split_kv_b(const io::ModelConfig& c, const std::string& blk, const io::TensorData& t, io::GgufWriter& w) {
  const int64_t heads = c.num_attention_heads, nope = c.qk_nope_head_dim, v = c.v_head_dim, rank = c.kv_lora_rank;
  const size_t in_row = row_bytes(t.dtype, rank);
  const DType kt = fit_block_type(t.dtype, nope);
  const size_t k_row = row_bytes(kt, nope);
  std::vector<uint8_t> k_b(k_row * static_cast<size_t>(heads * rank)), v_b;
  std::vector<float> head(static_cast<size_t>(nope * rank)), col(static_cast<size_t>(nope));  // head: [nope, rank]
  for (int64_t h = 0; h < heads; ++h) {
    const uint8_t* rows = t.bytes.data() + static_cast<size_t>(h * (nope + v)) * in_row;
    for (int64_t i = 0; i < nope; ++i) dequantize_row(t.dtype, rows + static_cast<size_t>(i) * in_row, rank, &head[static_cast<size_t>(i * rank)]);
    for (int64_t r = 0; r < rank; ++r) {
      for (int64_t i = 0; i < nope; ++i) col[static_cast<size_t>(i)] = head[static_cast<size_t>(i * rank + r)];
      quantize_row(kt, col.data(), nope, k_b.data() + static_cast<size_t>(h * rank + r) * k_row);
    }
    v_b.insert(v_b.end(), rows + static_cast<size_t>(nope) * in_row, rows + static_cast<size_t>(nope + v) * in_row);
  }
  const auto u = [](int64_t x) { return static_cast<uint64_t>(x); };
  w.add_tensor(blk + "attn_k_b.weight", kt, {u(nope), u(rank), u(heads)}, std::move(k_b));
  w.add_tensor(blk + "attn_v_b.weight", t.dtype, {u(rank), u(v), u(heads)}, std::move(v_b));
}

}  // namespace

bool is_gguf_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  char magic[4] = {};
  return f.read(magic, 4) && std::memcmp(magic, "GGUF", 4) == 0;
}

std::string gguf_files_in(const std::string& dir) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (!fs::is_directory(dir, ec) || fs::exists(fs::path(dir) / "config.json", ec)) return "";
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(dir, ec))
    if (e.path().extension() == ".gguf") names.push_back(e.path().filename().string());
  std::sort(names.begin(), names.end());
  std::string out;
  for (const std::string& n : names) out += (out.empty() ? "" : ", ") + n;
  return out;
}

GgufModel open_gguf_model(const std::string& path) {
  auto file = std::make_shared<const io::GgufShards>(path);
  io::ModelConfig cfg = io::gguf_model_config(*file);
  io::Checkpoint::Parts parts{path, {}, {}, file};
  const Importer imp{*file, cfg, parts};
  for (const TensorSpec& s : checkpoint_layout(cfg)) imp.add(s);
  return {std::move(cfg), io::Checkpoint::assemble(std::move(parts))};
}

void add_gguf_tensors(const io::ModelConfig& cfg, std::vector<io::TensorData> tensors, io::GgufWriter& w,
                      const GgufExportOptions& o) {
  io::put_gguf_config(cfg, o.split_kv_b, w);
  if (cfg.rope_scaling.type == "llama3") add_rope_freqs(cfg, w);
  std::map<std::string, ExpertSlices> experts;
  for (io::TensorData& t : tensors) {
    const GgufLocation loc = gguf_location(cfg, t.name);
    if (loc.expert >= 0) {
      experts[loc.name].by_expert.emplace(loc.expert, std::move(t));
      continue;
    }
    if (o.split_kv_b && t.name.ends_with(".kv_b_proj.weight")) {
      add_split_kv_b(cfg, loc.name.substr(0, loc.name.size() - std::string("attn_kv_b.weight").size()), t, w);
      continue;
    }
    if (t.shape.size() == 1) t = as_f32(std::move(t));
    if (loc.rope_heads > 0) {
      const bool matrix = t.shape.size() == 2;
      const int64_t n = t.shape[0];
      const size_t unit = matrix ? row_bytes(t.dtype, t.shape[1]) : dtype_size(t.dtype);
      t.bytes = reorder_rows(t.bytes.data(), n, unit, loc.rope_heads, false);
    }
    w.add_tensor(loc.name, t.dtype, ggml_dims(t.shape, 0), std::move(t.bytes));
  }
  for (auto& [name, e] : experts) add_merged(name, e, cfg.n_routed_experts, w);
}

}  // namespace dsinfer::model
