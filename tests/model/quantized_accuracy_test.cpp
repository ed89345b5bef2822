// Quantized copies of the shipped models stay close to the float32
// reference logits. Positions whose reference top-2 gap is below 0.1 are not
// counted for top-1 agreement; in MoE models positions with a routing
// near-tie (route_margin < 0.01, see the reference README) are exempted.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "common/testdata.h"
#include "core/error.h"
#include "model/model_test_util.h"
#include "kernels/cpu/isa.h"
#include "io/safetensors.h"
#include "model/quantize.h"

namespace dsinfer::test {
namespace {

struct Accuracy {
  double worst_rel = 0, sum_rel = 0;
  int positions = 0;  // sum_rel's
  int agree = 0, counted = 0;
};

// decode: one token at a time with MLA in absorbed form (its W_uk^T a
// derived Q8_0 weight), as served; otherwise one prefill.
Accuracy measure(const std::string& dir, const nlohmann::json& ref, bool decode) {
  Loaded m = load(dir);
  const size_t vocab = static_cast<size_t>(m.model->config().vocab_size);
  Accuracy a;
  for (const auto& c : ref["cases"]) {
    const auto tokens = c["tokens"].get<std::vector<int32_t>>();
    const auto got = decode ? run_tokens(*m.model, tokens, 1, model::MlaMode::Absorbed) : run_tokens(*m.model, tokens);
    bool near_tie_seen = false;
    for (size_t p = 0; p < tokens.size(); ++p) {
      if (c.contains("route_margin") && c["route_margin"][p].get<double>() < 0.01) near_tie_seen = true;
      if (near_tie_seen) continue;  // a flipped near-tie route moves this and later positions legitimately
      const auto want = c["logits"][p].get<std::vector<float>>();
      const double rel = rel_l2(&got[p * vocab], want.data(), vocab);
      a.worst_rel = std::max(a.worst_rel, rel);
      a.sum_rel += rel;
      ++a.positions;
      std::vector<float> s = want;
      std::partial_sort(s.begin(), s.begin() + 2, s.end(), std::greater<float>());
      if (s[0] - s[1] <= 0.1f) continue;
      ++a.counted;
      const float* g = &got[p * vocab];
      a.agree += (std::max_element(g, g + vocab) - g) == (std::max_element(want.begin(), want.end()) - want.begin());
    }
  }
  return a;
}

// The bounds each type is held to (see the comment in the test).
void expect_within_bounds(const std::string& type, bool decode, const Accuracy& a) {
  const double agreement = a.counted ? static_cast<double>(a.agree) / a.counted : 0.0;
  const double mean_rel = a.positions ? a.sum_rel / a.positions : 0.0;
  if (type == "q8_0") {
    EXPECT_LE(a.worst_rel, decode ? 6e-2 : 5e-2);
    EXPECT_GE(agreement, 0.98);
  } else if (type == "q6_k") {
    EXPECT_LE(a.worst_rel, 0.35);
    EXPECT_LE(mean_rel, 0.1);
    EXPECT_GE(agreement, a.counted >= 20 ? 0.95 : 0.8);
  } else if (type == "q5_k") {  // mean 0.065-0.14, top-1 92-97% where >= 20 positions count
    EXPECT_LE(a.worst_rel, 0.45);
    EXPECT_LE(mean_rel, 0.2);
    EXPECT_GE(agreement, a.counted >= 20 ? 0.9 : 0.5);
  } else if (type == "q5_0") {  // mean 0.08-0.19, top-1 82-96% where >= 20 positions count
    EXPECT_LE(a.worst_rel, 0.5);
    EXPECT_LE(mean_rel, 0.25);
    EXPECT_GE(agreement, a.counted >= 20 ? 0.75 : 0.5);
  } else {
    EXPECT_LE(a.worst_rel, 1.0);
    EXPECT_LE(mean_rel, 0.45);
    EXPECT_GE(agreement, a.counted >= 20 ? 0.6 : 0.25);
  }
}

class QuantizedAccuracy : public ::testing::TestWithParam<std::tuple<std::string, std::string>> {};

TEST_P(QuantizedAccuracy, StaysCloseToReference) {
  REQUIRE_TESTDATA(td);
  const auto& [model, type] = GetParam();
  const std::string out = make_temp_dir();
  model::QuantizeOptions o;
  o.input_dir = td + "/reference/models/" + model;
  o.output_dir = out;
  o.type = type == "q8_0" ? DType::Q8_0 : type == "q4_0" ? DType::Q4_0 : type == "q5_0" ? DType::Q5_0
         : type == "q6_k" ? DType::Q6_K : type == "q5_k" ? DType::Q5_K : DType::Q4_K;
  o.more_bits = type == "q4_k_m";
  const auto rep = model::quantize_checkpoint(o);
  // Smaller than BF16 input; FP8 input (8 bits + block scales) only shrinks at 4 bits.
  if (model != "ds3-tiny-fp8" || type != "q8_0") {
    EXPECT_LT(rep.bytes_out, rep.bytes_in);
  }
  const nlohmann::json ref = nlohmann::json::parse(std::ifstream(td + "/reference/" + model + ".json"));
  // DeepSeek models also decode token by token, with MLA absorbed.
  for (const bool decode : {false, true}) {
    if (decode && model.rfind("ds", 0) != 0) continue;
    const Accuracy a = measure(out, ref, decode);
    const double agreement = a.counted ? static_cast<double>(a.agree) / a.counted : 0.0;
    const double mean_rel = a.positions ? a.sum_rel / a.positions : 0.0;
    std::printf("%s %s%s: worst relative error %.4f (mean %.4f), top-1 agreement %.1f%% of %d positions\n",
                model.c_str(), type.c_str(), decode ? " (decode, absorbed MLA)" : "", a.worst_rel, mean_rel,
                100.0 * agreement, a.counted);
    ASSERT_GE(a.counted, 6);
    // Issue "CPU speed" targets: q8_0 worst error <= 3e-2 with >= 98% top-1, q4 types >= 90%.
    // Met today: q8_0 top-1 (100% on every model). Not yet: q8_0 error reaches 4.8% on
    // llama-tiny (3.0% of it is weight rounding these random models amplify ~5x, the rest
    // the kernels' int8 activations), and q4 agreement is 25-84%. The bounds below hold
    // what is reached so a regression fails; the issue note tracks the gap. The q4 mean
    // error is the steadier guard: ds3-tiny-fp8 counts 8 positions, so one flipped
    // near-even position moves its agreement by 12.5 points (it reads 3 of 8 with
    // Q4_K's activations quantized per block of 32, 2 of 8 per super-block of 256, at
    // the same mean error, 0.37; the highest q4 mean is q4_0's there, 0.41).
    // Absorbed MLA runs other products than the plain prefill (q_nope into W_uk^T,
    // the latent output into W_uv, each with its activations quantized to int8):
    // ds2-lite-tiny's worst decode position reads 0.052 (0.067 while W_uk^T was
    // F16), its mean 0.026 against 0.024 in prefill.
    // q6_k (issue 5 asks nothing of it) reads mean errors of 0.040-0.075 and
    // 97-100% top-1 except ds3-tiny's 5 of 6 (worst 0.27 at that position):
    // ~2.6x q8_0's error, as its weights' rms error (1.8% against 0.5%).
    SCOPED_TRACE(decode ? "decode" : "prefill");
    expect_within_bounds(type, decode, a);
  }
  std::filesystem::remove_all(out);
}

// The two storage layouts hold the same blocks: whichever a checkpoint uses,
// every SIMD level computes bit-identical logits from it (AVX-512 repacks GGUF
// rows into groups, the lower levels unpack groups into rows, both exactly).
TEST(QuantizedStorage, RowGroupsAndGgufRowsGiveIdenticalLogits) {
  REQUIRE_TESTDATA(td);
  const std::string model = "ds2-lite-tiny";  // MLA, MoE experts, a 4-bit fallback width
  const nlohmann::json ref = nlohmann::json::parse(std::ifstream(td + "/reference/" + model + ".json"));
  const auto tokens = ref["cases"][0]["tokens"].get<std::vector<int32_t>>();
  for (DType type : {DType::Q4_K, DType::Q5_K, DType::Q6_K, DType::Q8_0, DType::Q4_0}) {
    std::string dirs[2];
    for (int rows16 = 0; rows16 < 2; ++rows16) {
      dirs[rows16] = make_temp_dir();
      model::QuantizeOptions o;
      o.input_dir = td + "/reference/models/" + model;
      o.output_dir = dirs[rows16];
      o.type = type;
      o.row_groups = rows16 == 1;
      model::quantize_checkpoint(o);
    }
    for (const char* isa : {"scalar", "avx2", "avx512"}) {
      if (!kernels::cpu::isa_supported(kernels::cpu::resolve_isa(isa))) continue;
      std::vector<float> logits[2];
      for (int rows16 = 0; rows16 < 2; ++rows16) {
        auto backend = kernels::make_backend({"cpu", 2, isa});
        auto m = model::Model::load(dirs[rows16], *backend);
        logits[rows16] = run_tokens(*m, tokens);
      }
      ASSERT_EQ(logits[0].size(), logits[1].size());
      EXPECT_EQ(0, std::memcmp(logits[0].data(), logits[1].data(), logits[0].size() * sizeof(float)))
          << dtype_name(type) << " at " << isa << ": row-group and GGUF-row checkpoints differ";
    }
    for (const std::string& d : dirs) std::filesystem::remove_all(d);
  }
}

// --type q4_k_m: Q6_K for the value (MLA: kv_b_proj) and down projections of the layers
// llama.cpp's Q4_K_M gives more bits (3 layers: the last; 4 layers: the last
// two), Q4_K (or its fallback for narrow rows) elsewhere; and the logits move
// closer to the reference than plain q4_k's.
// The same for --type q5_k_m over Q5_K (its fallback for narrow rows: Q8_0).
// With or without the mix the output projection is Q6_K, as llama.cpp's.
TEST(QuantizedStorage, KQuantMixesPutQ6KWhereLlamaCppDoes) {
  REQUIRE_TESTDATA(td);
  const std::pair<std::string, std::vector<int>> cases[] = {{"qwen2-tiny", {2}}, {"ds2-lite-tiny", {2, 3}}};
  for (const DType base : {DType::Q4_K, DType::Q5_K}) {
    const std::string name_of_base(dtype_name(base)), fallback = base == DType::Q4_K ? "Q5_0" : "Q8_0";
    for (const auto& [model, more] : cases) {
      double mean[2] = {0, 0};
      for (const bool mix : {false, true}) {
        const std::string dir = make_temp_dir();
        model::QuantizeOptions o;
        o.input_dir = td + "/reference/models/" + model;
        o.output_dir = dir;
        o.type = base;
        o.more_bits = mix;
        model::quantize_checkpoint(o);
        const nlohmann::json ref = nlohmann::json::parse(std::ifstream(td + "/reference/" + model + ".json"));
        const Accuracy a = measure(dir, ref, false);
        mean[mix] = a.sum_rel / a.positions;
        const io::Checkpoint ck = io::Checkpoint::open(dir);
        int q6 = 0;
        const auto head = ck.metadata().find("dsinfer.dtype.lm_head.weight");
        ASSERT_NE(head, ck.metadata().end()) << model;
        EXPECT_EQ(head->second, "Q6_K") << model << ": the output projection keeps 6 bits, as in llama.cpp's mixes";
        for (const auto& [key, type] : ck.metadata()) {
          if (key.rfind("dsinfer.dtype.model.layers.", 0) != 0) continue;
          const std::string name = key.substr(14);
          const int layer = std::stoi(name.substr(13));
          const bool wide = name.ends_with(".v_proj.weight") || name.ends_with(".kv_b_proj.weight") || name.ends_with("down_proj.weight");
          const bool six = mix && wide && std::find(more.begin(), more.end(), layer) != more.end();
          q6 += type == "Q6_K";
          if (six)
            EXPECT_TRUE(type == "Q6_K" || type == "Q8_0") << model << " " << name << ": " << type;
          else
            EXPECT_TRUE(type == name_of_base || type == fallback) << model << " " << name << ": " << type;
        }
        EXPECT_EQ(q6 > 0, mix) << model << " " << name_of_base;
        std::filesystem::remove_all(dir);
      }
      EXPECT_LT(mean[1], mean[0]) << model << ": the " << name_of_base << " mix's mean relative error is not below "
                                  << name_of_base << "'s";
      std::printf("%s: mean relative error %s %.4f, its _M mix %.4f\n", model.c_str(), name_of_base.c_str(), mean[0], mean[1]);
    }
  }
}

// Replaces every `from` in the headers of dir's safetensors files by `to` (of
// the same length, so the data offsets stay); returns how many.
int rewrite_headers(const std::string& dir, const std::string& from, const std::string& to) {
  int rewritten = 0;
  for (const auto& f : std::filesystem::directory_iterator(dir)) {
    if (f.path().extension() != ".safetensors") continue;
    std::fstream io(f.path(), std::ios::in | std::ios::out | std::ios::binary);
    uint64_t n = 0;
    io.read(reinterpret_cast<char*>(&n), 8);
    std::string header(n, ' ');
    io.read(header.data(), static_cast<std::streamsize>(n));
    for (size_t at; (at = header.find(from)) != std::string::npos; ++rewritten) header.replace(at, from.size(), to);
    io.seekp(8);
    io.write(header.data(), static_cast<std::streamsize>(n));
  }
  return rewritten;
}

std::string quantized_copy(const std::string& model) {
  const std::string dir = make_temp_dir();
  model::QuantizeOptions o;
  o.input_dir = testdata_dir() + "/reference/models/" + model;
  o.output_dir = dir;
  o.type = DType::Q4_K;
  o.row_groups = true;
  model::quantize_checkpoint(o);
  return dir;
}

// A Q4_K checkpoint in the row-group layout of earlier versions (2368-byte
// super-blocks, metadata "rows16") is refused with a message that names the
// tensor and says what to do, not read as the 2304-byte layout.
TEST(QuantizedStorage, EarlierQ4kRowGroupLayoutAsksToQuantizeAgain) {
  REQUIRE_TESTDATA(td);
  const std::string dir = quantized_copy("ds2-lite-tiny");
  // JSON allows the spaces.
  ASSERT_GT(rewrite_headers(dir, "\"rows16.2\"", "\"rows16\"  "), 0) << "no Q4_K row-group tensor written";
  const std::string e = load_error(dir);
  EXPECT_NE(e.find("quantize the model again"), std::string::npos) << e;
  EXPECT_NE(e.find("model.layers."), std::string::npos) << e;
  std::filesystem::remove_all(dir);
}

// Q4_K groups relabelled as a type that is not a block type (BF16) or as
// another block type (Q6_K, whose groups hold 3360 bytes a super-block, not
// 2304, under another layout name) are refused by tensor name, not read as
// some other type's groups.
TEST(QuantizedStorage, RowGroupLayoutOfAnotherTypeIsRefused) {
  REQUIRE_TESTDATA(td);
  const std::pair<const char*, const char*> cases[] = {{"\"BF16\"", "unknown block type \"BF16\""},
                                                          {"\"Q6_K\"", "unknown layout \"rows16.2\" in metadata for Q6_K"}};
  for (const auto& [type, error] : cases) {
    const std::string dir = quantized_copy("qwen2-tiny");
    ASSERT_GT(rewrite_headers(dir, "\"Q4_K\"", type), 0) << "no Q4_K row-group tensor written";
    const std::string e = load_error(dir);
    EXPECT_NE(e.find(error), std::string::npos) << e;
    EXPECT_NE(e.find("model.layers."), std::string::npos) << e;
    std::filesystem::remove_all(dir);
  }
}

double mean_rel_l2(const std::vector<float>& a, const std::vector<float>& b, size_t vocab) {
  double sum = 0;
  const size_t n = b.size() / vocab;
  for (size_t p = 0; p < n; ++p) sum += rel_l2(&a[p * vocab], &b[p * vocab], vocab);
  return sum / static_cast<double>(n);
}

// Logits of every position of `tokens` over a KV cache of `kv`: one prefill,
// or one token at a time with MLA absorbed (decode).
std::vector<float> logits_with_cache(model::Model& m, const std::vector<int32_t>& tokens, model::CacheDType kv,
                                     bool decode) {
  engine::RunnerOptions o;
  o.max_tokens = static_cast<int64_t>(tokens.size());
  o.block_size = 4;
  o.kv_cache_dtype = kv;
  o.forward.mla_mode = decode ? model::MlaMode::Absorbed : model::MlaMode::Auto;
  engine::SequenceRunner r(m, o);
  if (!decode) return r.feed(tokens, true);
  std::vector<float> all;
  for (int32_t t : tokens) {
    const std::vector<float> l = r.feed({t}, true);
    all.insert(all.end(), l.begin(), l.end());
  }
  return all;
}

// A quantized model gets a bf16 KV cache unless asked otherwise (half the
// bytes per position, as vLLM's bf16 and llama.cpp's f16 caches), a float one
// keeps float32 (its 1e-3 checks against the reference are unchanged).
// Rounding K and V to bf16 (2^-9) moves a q8_0 model's logits less than its
// weights' quantization does: over every position of the reference cases, the
// mean relative difference from the same model over a float32 cache stays
// below that model's mean difference from the float32 reference (these random
// tiny models amplify both: 1.2e-2 against 1.5e-2 for qwen2-tiny, 2.3e-2
// against 2.8-3.0e-2 for ds2-lite-tiny, whose worst positions are routing
// near-ties), the top-1 is the same wherever the float32 cache's top-2 gap
// exceeds 0.1, and the difference is not zero (the cache really is bf16).
TEST(QuantizedKvCache, AutoIsBf16AndStaysCloseToTheF32Cache) {
  REQUIRE_TESTDATA(td);
  for (const std::string model : {"qwen2-tiny", "ds2-lite-tiny"}) {
    SCOPED_TRACE(model);
    const std::string dir = td + "/reference/models/" + model;
    EXPECT_EQ(load(dir).model->kv_spec().dtype, DType::F32) << "a float checkpoint's cache";
    const std::string out = make_temp_dir();
    model::QuantizeOptions o;
    o.input_dir = dir;
    o.output_dir = out;
    o.type = DType::Q8_0;
    model::quantize_checkpoint(o);
    Loaded m = load(out);
    const model::KVCacheSpec f32 = m.model->kv_spec(model::CacheDType::F32), bf16 = m.model->kv_spec();
    EXPECT_EQ(bf16.dtype, DType::BF16);
    EXPECT_EQ(f32.bytes_per_token(), 2 * bf16.bytes_per_token());
    const nlohmann::json ref = nlohmann::json::parse(std::ifstream(td + "/reference/" + model + ".json"));
    const size_t vocab = static_cast<size_t>(m.model->config().vocab_size);
    for (const bool decode : {false, true}) {
      std::vector<float> reference, want, got;  // [positions of all cases, vocab]
      for (const auto& c : ref["cases"]) {
        const auto tokens = c["tokens"].get<std::vector<int32_t>>();
        for (const auto& row : c["logits"]) {
          const auto r = row.get<std::vector<float>>();
          reference.insert(reference.end(), r.begin(), r.end());
        }
        const auto w = logits_with_cache(*m.model, tokens, model::CacheDType::F32, decode);
        const auto g = logits_with_cache(*m.model, tokens, model::CacheDType::Auto, decode);
        want.insert(want.end(), w.begin(), w.end());
        got.insert(got.end(), g.begin(), g.end());
      }
      const double worst = worst_rel_l2(got, want, vocab), weights = worst_rel_l2(want, reference, vocab);
      const double mean = mean_rel_l2(got, want, vocab), weights_mean = mean_rel_l2(want, reference, vocab);
      std::printf("%s q8_0%s: bf16 cache against f32 cache, relative difference worst %.2e mean %.2e (q8_0 weights "
                  "against the reference: worst %.2e mean %.2e)\n",
                  model.c_str(), decode ? " (decode)" : "", worst, mean, weights, weights_mean);
      EXPECT_GT(worst, 0.0);
      EXPECT_LT(mean, weights_mean);
      int same = 0, counted = 0;
      for (size_t p = 0; p * vocab < want.size(); ++p) {
        std::vector<float> s(want.begin() + static_cast<int64_t>(p * vocab), want.begin() + static_cast<int64_t>((p + 1) * vocab));
        const auto top = std::max_element(s.begin(), s.end()) - s.begin();
        std::partial_sort(s.begin(), s.begin() + 2, s.end(), std::greater<float>());
        if (s[0] - s[1] <= 0.1f) continue;
        const float* gp = &got[p * vocab];
        ++counted;
        same += std::max_element(gp, gp + vocab) - gp == top;
      }
      EXPECT_GE(counted, 100);
      EXPECT_EQ(same, counted);
    }
    std::filesystem::remove_all(out);
  }
}

INSTANTIATE_TEST_SUITE_P(
    Tiny, QuantizedAccuracy,
    ::testing::Combine(::testing::Values("qwen2-tiny", "llama-tiny", "ds3-tiny", "ds3-tiny-fp8", "ds2-lite-tiny"),
                       ::testing::Values("q8_0", "q6_k", "q5_k", "q5_0", "q4_0", "q4_k", "q4_k_m")),
    [](const auto& info) {
      std::string n = std::get<0>(info.param) + "_" + std::get<1>(info.param);
      std::replace(n.begin(), n.end(), '-', '_');
      return n;
    });

}  // namespace
}  // namespace dsinfer::test
