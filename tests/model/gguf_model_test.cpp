// GGUF model files: the shipped models written with llama.cpp's names,
// metadata and row orders, then loaded as GGUF, against the float32 reference
// logits; the q/k row order and the metadata key names checked against
// llama.cpp's own converter and files; bad files refused by name.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "common/testdata.h"
#include "core/error.h"
#include "core/quant.h"
#include "io/ggml_dequant.h"
#include "io/gguf.h"
#include "io/gguf_config.h"
#include "io/gguf_shards.h"
#include "io/safetensors.h"
#include "model/checkpoint_layout.h"
#include "model/gguf_names.h"
#include "model/gguf_model.h"
#include "model/model_test_util.h"
#include "model/quantize.h"

namespace dsinfer::test {
namespace {

// The rows of a BF16 matrix in block type t.
io::TensorData quantized(const io::TensorInfo& t, DType type) {
  const int64_t rows = t.shape[0], cols = t.shape[1];
  io::TensorData out{t.name, type, t.shape, std::vector<uint8_t>(row_bytes(type, cols) * static_cast<size_t>(rows))};
  std::vector<float> row(static_cast<size_t>(cols));
  for (int64_t r = 0; r < rows; ++r) {
    dequantize_row(t.dtype, static_cast<const uint8_t*>(t.data) + static_cast<size_t>(r) * row_bytes(t.dtype, cols), cols, row.data());
    quantize_row(type, row.data(), cols, out.bytes.data() + static_cast<size_t>(r) * row_bytes(type, cols));
  }
  return out;
}

// The checkpoint's tensors as stored (BF16 stays BF16) written as GGUF; the
// token embedding in `embed` (llama.cpp's Q4_K_M files hold it in Q4_K);
// shards > 1: split as gguf-split does, the first shard's path returned.
std::string float_gguf(const std::string& model, bool split_kv_b, DType embed = DType::BF16, int shards = 1) {
  const std::string dir = testdata_dir() + "/reference/models/" + model;
  const io::ModelConfig cfg = io::load_config(dir);
  const io::Checkpoint ck = io::Checkpoint::open(dir);
  std::vector<io::TensorData> tensors;
  for (const model::TensorSpec& s : model::checkpoint_layout(cfg)) {
    const io::TensorInfo& t = ck.get(s.name);
    const auto* p = static_cast<const uint8_t*>(t.data);
    if (s.role == model::TensorRole::Embedding && embed != t.dtype)
      tensors.push_back(quantized(t, embed));
    else
      tensors.push_back({t.name, t.dtype, t.shape, std::vector<uint8_t>(p, p + t.nbytes)});
  }
  io::GgufWriter w;
  model::add_gguf_tensors(cfg, std::move(tensors), w, {split_kv_b});
  const std::string path = make_temp_dir() + "/" + model + ".gguf";
  if (shards > 1) return w.write_split(path, shards).front();
  w.write(path);
  return path;
}

nlohmann::json reference(const std::string& model) {
  return nlohmann::json::parse(std::ifstream(testdata_dir() + "/reference/" + model + ".json"));
}

class GgufFloatModel : public ::testing::TestWithParam<std::tuple<std::string, bool>> {};

// The same 1e-3 bound as the safetensors checkpoints (reference_logits_test):
// names, config keys, llama's row order, rope_freqs and the joined attn_k_b /
// attn_v_b must all be right for it to hold.
TEST_P(GgufFloatModel, MatchesReferenceLogits) {
  REQUIRE_TESTDATA(td);
  const auto& [model, split] = GetParam();
  const std::string path = float_gguf(model, split);
  Loaded m = load(path);
  const nlohmann::json ref = reference(model);
  const size_t vocab = static_cast<size_t>(m.model->config().vocab_size);
  double worst = 0;
  for (const auto& c : ref["cases"]) {
    const auto tokens = c["tokens"].get<std::vector<int32_t>>();
    const std::vector<float> got = run_tokens(*m.model, tokens);
    for (size_t p = 0; p < tokens.size(); ++p) {
      const auto want = c["logits"][p].get<std::vector<float>>();
      const double err = rel_l2(&got[p * vocab], want.data(), vocab);
      worst = std::max(worst, err);
      EXPECT_LT(err, 1e-3) << model << ": case of " << tokens.size() << " tokens, position " << p;
    }
  }
  std::printf("%s from GGUF%s: worst relative L2 error %.3g\n", model.c_str(), split ? " (attn_k_b + attn_v_b)" : "", worst);
  std::filesystem::remove_all(std::filesystem::path(path).parent_path());
}

INSTANTIATE_TEST_SUITE_P(Reference, GgufFloatModel,
                         ::testing::Values(std::tuple{"qwen2-tiny", false}, std::tuple{"llama-tiny", false},
                                           std::tuple{"ds2-lite-tiny", false}, std::tuple{"ds2-lite-tiny", true},
                                           std::tuple{"ds3-tiny", false}, std::tuple{"ds3-tiny", true}),
                         [](const auto& i) {
                           std::string n = std::get<0>(i.param) + (std::get<1>(i.param) ? "_split_kv_b" : "");
                           std::replace(n.begin(), n.end(), '-', '_');
                           return n;
                         });

// A block-quantized token embedding (on AVX-512 repacked into row groups at
// load) is looked up row by row: the logits stay within that type's
// rounding of the reference (a wrong row would be off by ~100%).
TEST(GgufModel, QuantizedTokenEmbeddingLooksUpTheRightRows) {
  REQUIRE_TESTDATA(td);
  for (const auto& [type, bound] : {std::pair{DType::Q8_0, 2e-2}, std::pair{DType::Q4_K, 0.2}, std::pair{DType::Q6_K, 5e-2}}) {
    const std::string path = float_gguf("qwen2-tiny", false, type);
    Loaded m = load(path);
    const nlohmann::json ref = reference("qwen2-tiny");
    const auto& c = ref["cases"][2];
    const auto tokens = c["tokens"].get<std::vector<int32_t>>();
    const std::vector<float> got = run_tokens(*m.model, tokens);
    double worst = 0;
    for (size_t p = 0; p < tokens.size(); ++p) {
      const auto want = c["logits"][p].get<std::vector<float>>();
      worst = std::max(worst, rel_l2(&got[p * 1024], want.data(), 1024));
    }
    EXPECT_LT(worst, bound) << dtype_name(type) << " token_embd";
    EXPECT_GT(worst, 1e-4) << dtype_name(type) << ": the embedding was not quantized";
    std::printf("qwen2-tiny, %s token_embd: worst relative error %.4f\n", std::string(dtype_name(type)).c_str(), worst);
    std::filesystem::remove_all(std::filesystem::path(path).parent_path());
  }
}

// ggml's Q4_1 (d = range / 15, m = the minimum, codes round((x - m) / d)).
std::vector<uint8_t> to_q4_1(const std::vector<float>& x) {
  std::vector<uint8_t> out;
  for (size_t b = 0; b < x.size(); b += 32) {
    const float mn = *std::min_element(x.begin() + static_cast<int64_t>(b), x.begin() + static_cast<int64_t>(b + 32));
    const float mx = *std::max_element(x.begin() + static_cast<int64_t>(b), x.begin() + static_cast<int64_t>(b + 32));
    const float d = (mx - mn) / 15, id = d ? 1.0f / d : 0.0f;
    uint8_t blk[20] = {};
    const uint16_t dh = f32_to_f16(d), mh = f32_to_f16(mn);
    std::memcpy(blk, &dh, 2);
    std::memcpy(blk + 2, &mh, 2);
    for (size_t j = 0; j < 16; ++j) {
      const auto code = [&](float v) { return std::min(15, static_cast<int>((v - mn) * id + 0.5f)); };
      blk[4 + j] = static_cast<uint8_t>(code(x[b + j]) | (code(x[b + j + 16]) << 4));
    }
    out.insert(out.end(), blk, blk + 20);
  }
  return out;
}

// qwen2-tiny with every projection in Q5_0 (as llama.cpp's Q4_K_M holds rows
// that are not whole super-blocks), or in Q4_1 (read, converted to Q8_0).
std::string projections_gguf(DType q5_0_or_f32, uint32_t ggml_type) {
  const std::string dir = testdata_dir() + "/reference/models/qwen2-tiny";
  const io::ModelConfig cfg = io::load_config(dir);
  const io::Checkpoint ck = io::Checkpoint::open(dir);
  io::GgufWriter w;
  io::put_gguf_config(cfg, false, w);
  for (const model::TensorSpec& s : model::checkpoint_layout(cfg)) {
    const io::TensorInfo& t = ck.get(s.name);
    const std::string name = model::gguf_location(cfg, s.name).name;
    std::vector<float> x(static_cast<size_t>(t.numel()));
    dequantize_row(t.dtype, t.data, t.numel(), x.data());
    std::vector<uint64_t> dims(t.shape.rbegin(), t.shape.rend());
    const bool projection = s.role == model::TensorRole::Projection || s.role == model::TensorRole::LmHead;
    const DType type = projection ? q5_0_or_f32 : DType::F32;
    std::vector<uint8_t> bytes(row_bytes(type, t.numel()));
    quantize_row(type, x.data(), t.numel(), bytes.data());
    if (projection && ggml_type != io::ggml_type_of(type)) {
      bytes = to_q4_1(x);
      w.add_ggml_tensor(name, ggml_type, dims, std::move(bytes));
    } else {
      w.add_tensor(name, type, dims, std::move(bytes));
    }
  }
  const std::string path = make_temp_dir() + "/projections.gguf";
  w.write(path);
  return path;
}

// A Q5_0 GGUF computes with its blocks as stored; a Q4_1 one (a type without
// kernels) loads converted to Q8_0. Both land near the reference.
TEST(GgufModel, Q5_0AndQ4_1TensorsLoad) {
  REQUIRE_TESTDATA(td);
  const nlohmann::json ref = reference("qwen2-tiny");
  const auto tokens = ref["cases"][2]["tokens"].get<std::vector<int32_t>>();
  for (const auto& [type, ggml, bound] : {std::tuple{DType::Q5_0, uint32_t{6}, 0.15}, std::tuple{DType::Q5_0, io::kGgmlQ4_1, 0.3}}) {
    const std::string path = projections_gguf(type, ggml);
    Loaded m = load(path);
    const auto logits = run_tokens(*m.model, tokens);
    double worst = 0;
    for (size_t p = 0; p < tokens.size(); ++p)
      worst = std::max(worst, rel_l2(&logits[p * 1024], ref["cases"][2]["logits"][p].get<std::vector<float>>().data(), 1024));
    std::printf("qwen2-tiny with ggml type %u projections: worst relative error %.4f\n", ggml, worst);
    EXPECT_LT(worst, bound) << "ggml type " << ggml;
    EXPECT_GT(worst, 1e-3) << "ggml type " << ggml << ": the projections were not quantized";
    std::filesystem::remove_all(std::filesystem::path(path).parent_path());
  }
}

// A model split over three files (experts, norms and the output projection
// in different ones) loads from its first shard, as from one file; a missing
// shard is named.
TEST(GgufModel, SplitFilesLoadAsOne) {
  REQUIRE_TESTDATA(td);
  const std::string one = float_gguf("ds3-tiny", true), first = float_gguf("ds3-tiny", true, DType::BF16, 3);
  ASSERT_TRUE(first.ends_with("ds3-tiny-00001-of-00003.gguf")) << first;
  {
    const io::GgufShards shards(first);
    EXPECT_EQ(shards.count(), 3u);
    EXPECT_LT(shards.first().tensors().size() * 2, io::GgufShards(one).first().tensors().size());
    const io::GgufFile last(first.substr(0, first.size() - 19) + "00003-of-00003.gguf");
    ASSERT_FALSE(last.tensors().empty());
    const std::string& name = last.tensors().back().name;
    EXPECT_NE(shards.find_tensor(name), nullptr) << name << " is found through the first shard";
    EXPECT_EQ(shards.first().find_tensor(name), nullptr) << name << " is not in the first file";
  }
  const auto tokens = reference("ds3-tiny")["cases"][2]["tokens"].get<std::vector<int32_t>>();
  Loaded a = load(one), b = load(first);
  const auto la = run_tokens(*a.model, tokens), lb = run_tokens(*b.model, tokens);
  EXPECT_EQ(0, std::memcmp(la.data(), lb.data(), la.size() * sizeof(float)));
  const std::string second = first.substr(0, first.size() - 19) + "00002-of-00003.gguf";
  std::filesystem::remove(second);
  const std::string e = load_error(first);
  EXPECT_NE(e.find("shard 2 of 3 (" + second + ") is missing"), std::string::npos) << e;
  const std::string d = std::filesystem::path(first).parent_path().string();
  const std::string dir_error = load_error(d);
  EXPECT_NE(dir_error.find("has no config.json but GGUF files (ds3-tiny-00001-of-00003.gguf, "
                           "ds3-tiny-00003-of-00003.gguf): pass the one to load"), std::string::npos) << dir_error;
  for (const std::string& p : {one, first}) std::filesystem::remove_all(std::filesystem::path(p).parent_path());
}

// convert_hf_to_gguf.py's LlamaModel.permute, written as numpy reads it:
// w.reshape(n_head, 2, head_dim / 2, cols).swapaxes(1, 2) moves the row at
// [h, s, j] to [h, j, s]; so GGUF row h*D + 2j + s is HF row h*D + s*D/2 + j.
TEST(GgufModel, LlamaQkRowsAreInConvertHfToGgufOrder) {
  REQUIRE_TESTDATA(td);
  const std::string path = float_gguf("llama-tiny", false);
  const std::string dir = td + "/reference/models/llama-tiny";
  const io::ModelConfig cfg = io::load_config(dir);
  const io::Checkpoint ck = io::Checkpoint::open(dir);
  const io::GgufFile f(path);
  const int64_t d = cfg.head_dim;
  for (const auto& [hf, gguf, heads] : {std::tuple{"q_proj", "attn_q", cfg.num_attention_heads},
                                        std::tuple{"k_proj", "attn_k", cfg.num_key_value_heads}}) {
    const io::TensorInfo& src = ck.get(std::string("model.layers.1.self_attn.") + hf + ".weight");
    const io::GgufTensorInfo* dst = f.find_tensor(std::string("blk.1.") + gguf + ".weight");
    ASSERT_NE(dst, nullptr);
    const size_t row = static_cast<size_t>(cfg.hidden_size) * 2;  // BF16
    int moved = 0;
    for (int64_t h = 0; h < heads; ++h)
      for (int64_t s = 0; s < 2; ++s)
        for (int64_t j = 0; j < d / 2; ++j) {
          const auto* a = static_cast<const uint8_t*>(src.data) + static_cast<size_t>(h * d + s * d / 2 + j) * row;
          const uint8_t* b = dst->data + static_cast<size_t>(h * d + 2 * j + s) * row;
          ASSERT_EQ(0, std::memcmp(a, b, row)) << hf << " head " << h << " half " << s << " row " << j;
          moved += (s * d / 2 + j) != (2 * j + s);
        }
    EXPECT_GT(moved, 0);
  }
  const io::GgufTensorInfo* v = f.find_tensor("blk.1.attn_v.weight");
  ASSERT_NE(v, nullptr);
  EXPECT_EQ(0, std::memcmp(v->data, ck.get("model.layers.1.self_attn.v_proj.weight").data, v->nbytes)) << "v is not permuted";
  std::filesystem::remove_all(std::filesystem::path(path).parent_path());
}

// `model` quantized to `type` twice in a fresh directory: DIR/st (safetensors) and DIR/model.gguf.
std::string quantized_both(const std::string& model, DType type) {
  const std::string dir = make_temp_dir();
  model::QuantizeOptions o;
  o.input_dir = testdata_dir() + "/reference/models/" + model;
  o.type = type;
  for (const char* out : {"/st", "/model.gguf"}) {
    o.output_dir = dir + out;
    model::quantize_checkpoint(o);
  }
  return dir;
}

// `dsinfer quantize --output NAME.gguf` holds the same blocks as the
// safetensors checkpoint in GGUF's rows: identical logits (llama: its q/k
// rows reordered both ways; experts sliced out of merged tensors).
TEST(GgufModel, QuantizedGgufGivesTheQuantizedCheckpointsLogits) {
  REQUIRE_TESTDATA(td);
  for (const std::string model : {"qwen2-tiny", "llama-tiny"}) {
    for (DType type : {DType::Q4_K, DType::Q6_K}) {
      const std::string dir = quantized_both(model, type);
      const auto tokens = reference(model)["cases"][2]["tokens"].get<std::vector<int32_t>>();
      Loaded a = load(dir + "/st"), b = load(dir + "/model.gguf");
      const auto la = run_tokens(*a.model, tokens), lb = run_tokens(*b.model, tokens);
      ASSERT_EQ(la.size(), lb.size());
      EXPECT_EQ(0, std::memcmp(la.data(), lb.data(), la.size() * sizeof(float))) << model << " " << dtype_name(type);
      const io::GgufFile f(dir + "/model.gguf");
      EXPECT_EQ(f.find_tensor("blk.0.attn_output.weight")->type, io::ggml_type_of(type).value());
      EXPECT_EQ(f.find_tensor("blk.0.attn_norm.weight")->type, 0u) << "norms are F32, as llama.cpp stores them";
      std::filesystem::remove_all(dir);
    }
  }
}

// DeepSeek at q8_0: attn_k_b is requantized from the transposed key rows, so
// the logits are not bit-equal to the safetensors checkpoint's, but as close
// to the reference.
TEST(GgufModel, QuantizedDeepSeekGgufStaysCloseToTheCheckpoint) {
  REQUIRE_TESTDATA(td);
  const std::string dir = quantized_both("ds3-tiny", DType::Q8_0);
  const io::GgufFile f(dir + "/model.gguf");
  ASSERT_NE(f.find_tensor("blk.1.attn_k_b.weight"), nullptr);
  EXPECT_EQ(f.find_tensor("blk.1.attn_kv_b.weight"), nullptr);
  EXPECT_EQ(f.find_tensor("blk.1.ffn_gate_exps.weight")->dims, (std::vector<uint64_t>{256, 128, 16}));
  const nlohmann::json ref = reference("ds3-tiny");
  Loaded a = load(dir + "/st"), b = load(dir + "/model.gguf");
  const size_t vocab = 1024;
  const auto tokens = ref["cases"][1]["tokens"].get<std::vector<int32_t>>();
  const auto la = run_tokens(*a.model, tokens), lb = run_tokens(*b.model, tokens);
  double sum_a = 0, sum_b = 0;
  for (size_t p = 0; p < tokens.size(); ++p) {
    const auto want = ref["cases"][1]["logits"][p].get<std::vector<float>>();
    const double ea = rel_l2(&la[p * vocab], want.data(), vocab), eb = rel_l2(&lb[p * vocab], want.data(), vocab);
    EXPECT_LT(eb, 3e-2) << "position " << p << " (checkpoint's error " << ea << ")";
    sum_a += ea;
    sum_b += eb;
  }
  std::printf("ds3-tiny q8_0 mean relative error: GGUF %.4f, safetensors %.4f\n", sum_b / 7, sum_a / 7);
  EXPECT_LT(sum_b, 1.25 * sum_a) << "the requantized attn_k_b should add little to q8_0's own error";
  std::filesystem::remove_all(dir);
}

// llama.cpp's own files (vocab-only conversions of DeepSeek LLM 7B and
// DeepSeek Coder 6.7B) give those models' published config.json values.
TEST(GgufConfig, LlamaCppFilesGiveThePublishedConfigs) {
  REQUIRE_TESTDATA(td);
  const io::ModelConfig llm = io::gguf_model_config(io::GgufShards(td + "/tokenizers/ggml-vocab-deepseek-llm.gguf"));
  EXPECT_EQ(llm.model_type, "llama");
  EXPECT_EQ(llm.hidden_size, 4096);
  EXPECT_EQ(llm.intermediate_size, 11008);
  EXPECT_EQ(llm.num_hidden_layers, 30);
  EXPECT_EQ(llm.num_attention_heads, 32);
  EXPECT_EQ(llm.num_key_value_heads, 32);
  EXPECT_EQ(llm.head_dim, 128);
  EXPECT_EQ(llm.vocab_size, 102400);
  EXPECT_EQ(llm.max_position_embeddings, 4096);
  EXPECT_NEAR(llm.rms_norm_eps, 1e-6, 1e-12);
  EXPECT_EQ(llm.rope_theta, 10000.0);
  EXPECT_EQ(llm.rope_scaling.type, "");
  EXPECT_EQ(llm.bos_token_id, 100000);
  EXPECT_EQ(llm.eos_token_id, std::vector<int64_t>{100001});
  const io::ModelConfig coder = io::gguf_model_config(io::GgufShards(td + "/tokenizers/ggml-vocab-deepseek-coder.gguf"));
  EXPECT_EQ(coder.num_hidden_layers, 32);
  EXPECT_EQ(coder.vocab_size, 32256);
  EXPECT_EQ(coder.max_position_embeddings, 16384);
  EXPECT_EQ(coder.rope_theta, 100000.0);
  EXPECT_EQ(coder.rope_scaling.type, "linear");
  EXPECT_EQ(coder.rope_scaling.factor, 4.0);
}

// Overwrites the first `from` found after the tensor name `name` in the file's header.
void patch_after(const std::string& path, const std::string& name, const std::string& from, const std::string& to) {
  std::fstream io(path, std::ios::in | std::ios::out | std::ios::binary);
  std::string head(1 << 16, '\0');
  io.read(head.data(), static_cast<std::streamsize>(head.size()));
  const size_t at = head.find(from, head.find(name) + name.size());
  ASSERT_NE(at, std::string::npos);
  io.clear();
  io.seekp(static_cast<std::streamoff>(at));
  io.write(to.data(), static_cast<std::streamsize>(to.size()));
}

// The ggml type id in the tensor table entry of `name` (after its name: n_dims, the dims, then the type).
void set_tensor_type(const std::string& path, const std::string& name, uint32_t type) {
  std::fstream io(path, std::ios::in | std::ios::out | std::ios::binary);
  std::string head(1 << 16, '\0');
  io.read(head.data(), static_cast<std::streamsize>(head.size()));
  const size_t at = head.find(name);
  ASSERT_NE(at, std::string::npos);
  uint32_t n_dims = 0;
  std::memcpy(&n_dims, &head[at + name.size()], 4);
  io.clear();
  io.seekp(static_cast<std::streamoff>(at + name.size() + 4 + 8 * n_dims));
  io.write(reinterpret_cast<const char*>(&type), 4);
}

TEST(GgufModel, BadFilesAreRefusedByName) {
  REQUIRE_TESTDATA(td);
  const std::string dir = make_temp_dir();
  model::QuantizeOptions o;
  o.input_dir = td + "/reference/models/qwen2-tiny";
  o.type = DType::Q4_0;
  o.output_dir = dir + "/q4_0.gguf";
  model::quantize_checkpoint(o);
  // Q4_0 (2) -> IQ4_NL (20): the same 18 bytes a block, a type dsinfer does not compute with.
  std::filesystem::copy_file(o.output_dir, dir + "/iq4.gguf");
  set_tensor_type(dir + "/iq4.gguf", "blk.2.ffn_up.weight", 20);
  std::string e = load_error(dir + "/iq4.gguf");
  EXPECT_NE(e.find("blk.2.ffn_up.weight is IQ4_NL"), std::string::npos) << e;
  // A renamed tensor leaves the one the config needs missing.
  std::filesystem::copy_file(o.output_dir, dir + "/renamed.gguf");
  patch_after(dir + "/renamed.gguf", "blk.1.attn_", "attn_k.weight", "attn_x.weight");
  e = load_error(dir + "/renamed.gguf");
  EXPECT_NE(e.find("blk.1.attn_k.weight (model.layers.1.self_attn.k_proj.weight) is missing"), std::string::npos) << e;
  // An architecture llama.cpp has but dsinfer does not run.
  std::filesystem::copy_file(o.output_dir, dir + "/arch.gguf");
  patch_after(dir + "/arch.gguf", "general.architecture", "qwen2", "gemma");
  e = load_error(dir + "/arch.gguf");
  EXPECT_NE(e.find("architecture \"gemma\" is not supported"), std::string::npos) << e;
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace dsinfer::test
