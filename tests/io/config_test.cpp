// io::parse_config / load_config: the five reference checkpoints' config.json
// parse to the right values, and every invalid config is a dsinfer::Error that
// names the source and the offending key or value.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "common/testdata.h"
#include "core/error.h"
#include "io/hf_config.h"

namespace dsinfer::test {
namespace {

using io::ModelConfig;
using io::parse_config;
using nlohmann::json;

const char* kSrc = "cfg/config.json";

// Success iff f throws dsinfer::Error whose message contains every part.
::testing::AssertionResult fails_with(const std::function<void()>& f, const std::vector<std::string>& parts) {
  try {
    f();
  } catch (const Error& e) {
    const std::string msg = e.what();
    for (const auto& p : parts)
      if (msg.find(p) == std::string::npos)
        return ::testing::AssertionFailure() << "message \"" << msg << "\" lacks \"" << p << "\"";
    return ::testing::AssertionSuccess();
  } catch (const std::exception& e) {
    return ::testing::AssertionFailure() << "threw a non-dsinfer::Error: " << e.what();
  }
  return ::testing::AssertionFailure() << "no error was thrown";
}

::testing::AssertionResult parse_fails(const json& j, std::vector<std::string> parts) {
  parts.push_back(kSrc);
  return fails_with([&] { parse_config(j, kSrc); }, parts);
}

// Minimal valid configs.
json llama_base() {
  return json{{"model_type", "llama"},   {"vocab_size", 100},          {"hidden_size", 64},
              {"intermediate_size", 96}, {"num_hidden_layers", 2},     {"num_attention_heads", 8},
              {"num_key_value_heads", 2}, {"rms_norm_eps", 1e-5}};
}

json deepseek_base(const std::string& type = "deepseek_v3") {
  return json{{"model_type", type},
              {"vocab_size", 100},
              {"hidden_size", 64},
              {"intermediate_size", 96},
              {"num_hidden_layers", 6},
              {"num_attention_heads", 4},
              {"num_key_value_heads", 4},
              {"rms_norm_eps", 1e-6},
              {"q_lora_rank", nullptr},
              {"kv_lora_rank", 512},
              {"qk_nope_head_dim", 128},
              {"qk_rope_head_dim", 64},
              {"v_head_dim", 128},
              {"n_routed_experts", 16},
              {"n_shared_experts", 1},
              {"num_experts_per_tok", 4},
              {"moe_intermediate_size", 32},
              {"n_group", 4},
              {"topk_group", 2}};
}

// ---------------------------------------------------------------- the reference checkpoints

class RealConfigTest : public ::testing::Test {
 protected:
  static ModelConfig load(const std::string& td, const std::string& name) {
    return io::load_config(td + "/reference/models/" + name);
  }
};

TEST_F(RealConfigTest, Ds2LiteTiny) {
  REQUIRE_TESTDATA(td);
  const ModelConfig c = load(td, "ds2-lite-tiny");
  EXPECT_EQ(c.model_type, "deepseek_v2");
  EXPECT_TRUE(c.is_deepseek());
  EXPECT_EQ(c.vocab_size, 1024);
  EXPECT_EQ(c.hidden_size, 256);
  EXPECT_EQ(c.intermediate_size, 512);
  EXPECT_EQ(c.num_hidden_layers, 4);
  EXPECT_EQ(c.num_attention_heads, 4);
  EXPECT_EQ(c.num_key_value_heads, 4);
  EXPECT_EQ(c.max_position_embeddings, 163840);
  EXPECT_DOUBLE_EQ(c.rms_norm_eps, 1e-6);
  EXPECT_DOUBLE_EQ(c.rope_theta, 10000.0);
  EXPECT_FALSE(c.tie_word_embeddings);
  EXPECT_EQ(c.bos_token_id, 0);
  EXPECT_EQ(c.eos_token_id, (std::vector<int64_t>{1}));
  EXPECT_EQ(c.q_lora_rank, 0);  // null in the file
  EXPECT_EQ(c.kv_lora_rank, 64);
  EXPECT_EQ(c.qk_nope_head_dim, 32);
  EXPECT_EQ(c.qk_rope_head_dim, 16);
  EXPECT_EQ(c.v_head_dim, 32);
  EXPECT_EQ(c.qk_head_dim(), 48);
  EXPECT_EQ(c.head_dim, 48);
  EXPECT_EQ(c.n_routed_experts, 16);
  EXPECT_EQ(c.n_shared_experts, 2);
  EXPECT_EQ(c.num_experts_per_tok, 4);
  EXPECT_EQ(c.moe_intermediate_size, 128);
  EXPECT_EQ(c.n_group, 1);
  EXPECT_EQ(c.topk_group, 1);
  EXPECT_EQ(c.topk_method, "greedy");
  EXPECT_EQ(c.scoring_func, "softmax");
  EXPECT_FALSE(c.norm_topk_prob);
  EXPECT_DOUBLE_EQ(c.routed_scaling_factor, 1.0);
  EXPECT_EQ(c.first_k_dense_replace, 1);
  EXPECT_EQ(c.moe_layer_freq, 1);
  EXPECT_EQ(c.rope_scaling.type, "yarn");  // written as "type", not "rope_type"
  EXPECT_DOUBLE_EQ(c.rope_scaling.factor, 40.0);
  EXPECT_EQ(c.rope_scaling.original_max_position_embeddings, 4096);
  EXPECT_DOUBLE_EQ(c.rope_scaling.beta_fast, 32.0);
  EXPECT_DOUBLE_EQ(c.rope_scaling.beta_slow, 1.0);
  EXPECT_DOUBLE_EQ(c.rope_scaling.mscale, 0.707);
  EXPECT_DOUBLE_EQ(c.rope_scaling.mscale_all_dim, 0.707);
  EXPECT_EQ(c.quantization_config.quant_method, "");
  EXPECT_FALSE(c.is_moe_layer(0));
  for (int l = 1; l < 4; ++l) EXPECT_TRUE(c.is_moe_layer(l)) << l;
  EXPECT_EQ(c.kv_values_per_token_per_layer(), 64 + 16);
}

void expect_ds3_tiny(const ModelConfig& c) {
  EXPECT_EQ(c.model_type, "deepseek_v3");
  EXPECT_EQ(c.q_lora_rank, 96);
  EXPECT_EQ(c.kv_lora_rank, 64);
  EXPECT_EQ(c.n_routed_experts, 16);
  EXPECT_EQ(c.n_shared_experts, 1);
  EXPECT_EQ(c.num_experts_per_tok, 8);
  EXPECT_EQ(c.n_group, 4);
  EXPECT_EQ(c.topk_group, 2);
  EXPECT_EQ(c.topk_method, "noaux_tc");
  EXPECT_EQ(c.scoring_func, "sigmoid");
  EXPECT_TRUE(c.norm_topk_prob);
  EXPECT_DOUBLE_EQ(c.routed_scaling_factor, 2.5);
  EXPECT_EQ(c.first_k_dense_replace, 1);
  EXPECT_EQ(c.num_nextn_predict_layers, 0);
  EXPECT_EQ(c.rope_scaling.type, "yarn");
  EXPECT_DOUBLE_EQ(c.rope_scaling.factor, 40.0);
  EXPECT_DOUBLE_EQ(c.rope_scaling.mscale, 1.0);
  EXPECT_DOUBLE_EQ(c.rope_scaling.mscale_all_dim, 1.0);
  EXPECT_EQ(c.kv_values_per_token_per_layer(), 80);
  EXPECT_FALSE(c.is_moe_layer(0));
  EXPECT_TRUE(c.is_moe_layer(3));
}

TEST_F(RealConfigTest, Ds3Tiny) {
  REQUIRE_TESTDATA(td);
  const ModelConfig c = load(td, "ds3-tiny");
  expect_ds3_tiny(c);
  EXPECT_EQ(c.moe_intermediate_size, 128);
  EXPECT_EQ(c.quantization_config.quant_method, "");
  EXPECT_TRUE(c.quantization_config.weight_block_size.empty());
}

TEST_F(RealConfigTest, Ds3TinyFp8) {
  REQUIRE_TESTDATA(td);
  const ModelConfig c = load(td, "ds3-tiny-fp8");
  expect_ds3_tiny(c);
  EXPECT_EQ(c.moe_intermediate_size, 256);
  EXPECT_EQ(c.quantization_config.quant_method, "fp8");
  EXPECT_EQ(c.quantization_config.fmt, "e4m3");
  EXPECT_EQ(c.quantization_config.activation_scheme, "dynamic");
  EXPECT_EQ(c.quantization_config.weight_block_size, (std::vector<int64_t>{128, 128}));
}

TEST_F(RealConfigTest, LlamaTiny) {
  REQUIRE_TESTDATA(td);
  const ModelConfig c = load(td, "llama-tiny");
  EXPECT_EQ(c.model_type, "llama");
  EXPECT_FALSE(c.is_deepseek());
  EXPECT_EQ(c.hidden_size, 256);
  EXPECT_EQ(c.intermediate_size, 640);
  EXPECT_EQ(c.num_hidden_layers, 3);
  EXPECT_EQ(c.num_attention_heads, 8);
  EXPECT_EQ(c.num_key_value_heads, 2);
  EXPECT_EQ(c.head_dim, 32);
  EXPECT_EQ(c.max_position_embeddings, 131072);
  EXPECT_DOUBLE_EQ(c.rms_norm_eps, 1e-5);
  EXPECT_DOUBLE_EQ(c.rope_theta, 500000.0);
  EXPECT_FALSE(c.attention_bias);
  EXPECT_FALSE(c.mlp_bias);
  EXPECT_EQ(c.bos_token_id, 1000);
  EXPECT_EQ(c.eos_token_id, (std::vector<int64_t>{1001}));
  EXPECT_EQ(c.rope_scaling.type, "llama3");
  EXPECT_DOUBLE_EQ(c.rope_scaling.factor, 8.0);
  EXPECT_DOUBLE_EQ(c.rope_scaling.low_freq_factor, 1.0);
  EXPECT_DOUBLE_EQ(c.rope_scaling.high_freq_factor, 4.0);
  EXPECT_EQ(c.rope_scaling.original_max_position_embeddings, 8192);
  EXPECT_EQ(c.n_routed_experts, 0);
  for (int l = 0; l < 3; ++l) EXPECT_FALSE(c.is_moe_layer(l));
  EXPECT_EQ(c.kv_values_per_token_per_layer(), 2 * 2 * 32);
}

TEST_F(RealConfigTest, Qwen2Tiny) {
  REQUIRE_TESTDATA(td);
  const ModelConfig c = load(td, "qwen2-tiny");
  EXPECT_EQ(c.model_type, "qwen2");
  EXPECT_EQ(c.vocab_size, 1024);
  EXPECT_EQ(c.num_attention_heads, 8);
  EXPECT_EQ(c.num_key_value_heads, 2);
  EXPECT_EQ(c.head_dim, 32);
  EXPECT_DOUBLE_EQ(c.rms_norm_eps, 1e-6);
  EXPECT_DOUBLE_EQ(c.rope_theta, 10000.0);
  EXPECT_EQ(c.rope_scaling.type, "");
  EXPECT_DOUBLE_EQ(c.rope_scaling.factor, 1.0);
  EXPECT_FALSE(c.tie_word_embeddings);
  EXPECT_EQ(c.bos_token_id, 1000);
  EXPECT_EQ(c.eos_token_id, (std::vector<int64_t>{1001}));
  EXPECT_FALSE(c.is_moe_layer(0));
  EXPECT_EQ(c.kv_values_per_token_per_layer(), 128);
}

// ---------------------------------------------------------------- load_config file errors

TEST(LoadConfigTest, MissingDirectoryAndBadJsonNameThePath) {
  const std::string dir = make_temp_dir();
  EXPECT_TRUE(fails_with([&] { io::load_config(dir); }, {dir + "/config.json"}));
  {
    std::ofstream f(dir + "/config.json");
    f << "{\"model_type\": \"llama\", ";  // truncated
  }
  EXPECT_TRUE(fails_with([&] { io::load_config(dir); }, {dir + "/config.json", "invalid JSON"}));
  {
    std::ofstream f(dir + "/config.json");
    json j = llama_base();
    j.erase("vocab_size");
    f << j.dump();
  }
  EXPECT_TRUE(fails_with([&] { io::load_config(dir); }, {dir + "/config.json", "vocab_size", "missing"}));
  {
    std::ofstream f(dir + "/config.json");
    f << llama_base().dump();
  }
  EXPECT_EQ(io::load_config(dir).vocab_size, 100);
  std::filesystem::remove_all(dir);
}

// ---------------------------------------------------------------- parse_config

TEST(ParseConfigTest, MinimalConfigsAndDefaults) {
  const ModelConfig l = parse_config(llama_base(), kSrc);
  EXPECT_EQ(l.head_dim, 8);  // hidden_size / num_attention_heads
  EXPECT_EQ(l.max_position_embeddings, 4096);
  EXPECT_DOUBLE_EQ(l.rope_theta, 10000.0);
  EXPECT_EQ(l.bos_token_id, -1);
  EXPECT_TRUE(l.eos_token_id.empty());
  EXPECT_EQ(l.rope_scaling.type, "");

  json j = llama_base();
  j.erase("num_key_value_heads");
  EXPECT_EQ(parse_config(j, kSrc).num_key_value_heads, 8);  // defaults to num_attention_heads
  j = llama_base();
  j["head_dim"] = 16;
  j["eos_token_id"] = {7, 9};
  const ModelConfig h = parse_config(j, kSrc);
  EXPECT_EQ(h.head_dim, 16);
  EXPECT_EQ(h.eos_token_id, (std::vector<int64_t>{7, 9}));
  EXPECT_EQ(h.kv_values_per_token_per_layer(), 2 * 2 * 16);

  // deepseek_v3 defaults to noaux_tc + sigmoid, deepseek_v2 to greedy + softmax.
  const ModelConfig v3 = parse_config(deepseek_base("deepseek_v3"), kSrc);
  EXPECT_EQ(v3.topk_method, "noaux_tc");
  EXPECT_EQ(v3.scoring_func, "sigmoid");
  EXPECT_EQ(v3.q_lora_rank, 0);
  json v2j = deepseek_base("deepseek_v2");
  v2j.erase("q_lora_rank");  // absent is the same as null
  const ModelConfig v2 = parse_config(v2j, kSrc);
  EXPECT_EQ(v2.topk_method, "greedy");
  EXPECT_EQ(v2.scoring_func, "softmax");
  EXPECT_EQ(v2.q_lora_rank, 0);
}

TEST(ParseConfigTest, UnknownOrMissingModelTypeListsTheSupportedOnes) {
  const std::vector<std::string> supported = {"qwen2", "llama", "deepseek_v2", "deepseek_v3"};
  json j = llama_base();
  j["model_type"] = "mistral";
  auto parts = supported;
  parts.push_back("mistral");
  EXPECT_TRUE(parse_fails(j, parts));
  j.erase("model_type");
  parts = supported;
  parts.push_back("model_type");
  EXPECT_TRUE(parse_fails(j, parts));
  EXPECT_TRUE(fails_with([] { parse_config(json::array({1, 2}), kSrc); }, {kSrc}));
}

TEST(ParseConfigTest, MissingRequiredKeyNamesKeyAndSource) {
  for (const char* key : {"vocab_size", "hidden_size", "intermediate_size", "num_hidden_layers",
                          "num_attention_heads", "rms_norm_eps"}) {
    json j = llama_base();
    j.erase(key);
    EXPECT_TRUE(parse_fails(j, {key, "missing"})) << key;
    j[key] = nullptr;  // null counts as missing
    EXPECT_TRUE(parse_fails(j, {key, "missing"})) << key << " = null";
  }
  for (const char* key : {"kv_lora_rank", "qk_nope_head_dim", "qk_rope_head_dim", "v_head_dim",
                          "num_experts_per_tok", "moe_intermediate_size"}) {
    json j = deepseek_base();
    j.erase(key);
    EXPECT_TRUE(parse_fails(j, {key, "missing"})) << key;
  }
  // Without routed experts the MoE keys are not required.
  json dense = deepseek_base();
  for (const char* key : {"n_routed_experts", "num_experts_per_tok", "moe_intermediate_size"}) dense.erase(key);
  const ModelConfig c = parse_config(dense, kSrc);
  EXPECT_EQ(c.n_routed_experts, 0);
  for (int l = 0; l < 6; ++l) EXPECT_FALSE(c.is_moe_layer(l));
}

TEST(ParseConfigTest, WrongTypesAndValues) {
  struct Bad {
    const char* key;
    json value;
    const char* what;
  };
  const Bad bad[] = {
      {"hidden_size", "64", "integer"},
      {"hidden_size", 64.5, "integer"},
      {"hidden_size", true, "integer"},
      {"num_hidden_layers", 0, "positive"},
      {"vocab_size", -5, "positive"},
      {"rms_norm_eps", "1e-5", "number"},
      {"rms_norm_eps", 0.0, "positive"},
      {"rope_theta", -1.0, "positive"},
      {"tie_word_embeddings", "yes", "true or false"},
      {"attention_bias", 1, "true or false"},
      {"eos_token_id", json::array({1, "x"}), "integer"},
      {"rope_scaling", "yarn", "object"},
      {"head_dim", 7, "even"},
  };
  for (const Bad& b : bad) {
    json j = llama_base();
    j[b.key] = b.value;
    EXPECT_TRUE(parse_fails(j, {b.key, b.what})) << b.key << " = " << b.value.dump();
  }
  const Bad bad_ds[] = {
      {"topk_method", 3, "string"},
      {"q_lora_rank", -1, "q_lora_rank"},
      {"kv_lora_rank", 0, "positive"},
      {"qk_rope_head_dim", 63, "even"},
      {"n_group", 0, "positive"},
      {"moe_layer_freq", 0, "positive"},
      {"norm_topk_prob", "true", "true or false"},
      {"routed_scaling_factor", "2.5", "number"},
  };
  for (const Bad& b : bad_ds) {
    json j = deepseek_base();
    j[b.key] = b.value;
    EXPECT_TRUE(parse_fails(j, {b.key, b.what})) << b.key << " = " << b.value.dump();
  }
}

TEST(ParseConfigTest, MoeRoutingValidation) {
  json j = deepseek_base();
  j["topk_method"] = "random_pick";
  EXPECT_TRUE(parse_fails(j, {"random_pick", "greedy", "group_limited_greedy", "noaux_tc"}));
  j = deepseek_base();
  j["scoring_func"] = "relu";
  EXPECT_TRUE(parse_fails(j, {"relu", "softmax", "sigmoid"}));
  j = deepseek_base();
  j["n_group"] = 3;  // 16 experts
  EXPECT_TRUE(parse_fails(j, {"n_group", "divide"}));
  j = deepseek_base();
  j["topk_group"] = 5;  // n_group 4
  EXPECT_TRUE(parse_fails(j, {"topk_group"}));
  j = deepseek_base();
  j["num_experts_per_tok"] = 17;
  EXPECT_TRUE(parse_fails(j, {"num_experts_per_tok"}));
  j = deepseek_base();
  j["num_experts_per_tok"] = 9;  // 2 groups of 4 experts hold only 8
  EXPECT_TRUE(parse_fails(j, {"num_experts_per_tok"}));
  j["topk_method"] = "greedy";  // greedy ignores groups, so 9 of 16 is fine
  EXPECT_EQ(parse_config(j, kSrc).num_experts_per_tok, 9);
  j = deepseek_base();
  j["num_experts_per_tok"] = 8;  // exactly what 2 groups hold
  EXPECT_EQ(parse_config(j, kSrc).num_experts_per_tok, 8);
}

TEST(ParseConfigTest, Fp8QuantizationConfig) {
  json j = deepseek_base();
  j["quantization_config"] = {{"quant_method", "fp8"}, {"fmt", "e4m3"}, {"weight_block_size", {64, 32}}};
  const ModelConfig c = parse_config(j, kSrc);
  EXPECT_EQ(c.quantization_config.quant_method, "fp8");
  EXPECT_EQ(c.quantization_config.weight_block_size, (std::vector<int64_t>{64, 32}));
  EXPECT_EQ(c.quantization_config.activation_scheme, "dynamic");

  for (const json& bs : {json::array({128}), json::array({128, 0}), json::array({128, -128}),
                         json::array({128, 128, 1}), json::array({128, 1.5}), json("128x128"), json(nullptr)}) {
    j["quantization_config"]["weight_block_size"] = bs;
    EXPECT_TRUE(parse_fails(j, {"weight_block_size", "quantization_config"})) << bs.dump();
  }
  j["quantization_config"].erase("weight_block_size");
  EXPECT_TRUE(parse_fails(j, {"weight_block_size"}));
  j["quantization_config"] = {{"quant_method", "awq"}, {"weight_block_size", {128, 128}}};
  EXPECT_TRUE(parse_fails(j, {"awq", "fp8"}));
  j["quantization_config"] = {{"quant_method", "fp8"}, {"fmt", "e5m2"}, {"weight_block_size", {128, 128}}};
  EXPECT_TRUE(parse_fails(j, {"e5m2", "e4m3"}));
  j["quantization_config"] = "fp8";
  EXPECT_TRUE(parse_fails(j, {"quantization_config"}));
}

TEST(ParseConfigTest, RopeScaling) {
  json j = llama_base();
  j["rope_scaling"] = {{"rope_type", "dynamic"}, {"factor", 2.0}};
  EXPECT_TRUE(parse_fails(j, {"dynamic", "llama3", "yarn", "linear"}));
  j["rope_scaling"] = {{"type", "longrope"}, {"factor", 2.0}};
  EXPECT_TRUE(parse_fails(j, {"longrope"}));

  j["rope_scaling"] = {{"rope_type", "linear"}, {"factor", 4.0}};
  const ModelConfig lin = parse_config(j, kSrc);
  EXPECT_EQ(lin.rope_scaling.type, "linear");
  EXPECT_DOUBLE_EQ(lin.rope_scaling.factor, 4.0);
  j["rope_scaling"] = {{"rope_type", "linear"}};
  EXPECT_TRUE(parse_fails(j, {"factor", "missing"}));
  j["rope_scaling"] = {{"rope_type", "linear"}, {"factor", 0.0}};
  EXPECT_TRUE(parse_fails(j, {"factor", "positive"}));

  j["rope_scaling"] = {{"rope_type", "default"}};
  EXPECT_EQ(parse_config(j, kSrc).rope_scaling.type, "");
  j["rope_scaling"] = nullptr;
  EXPECT_EQ(parse_config(j, kSrc).rope_scaling.type, "");

  // llama3 needs its frequency factors and original context, with high > low.
  const json llama3 = {{"rope_type", "llama3"},      {"factor", 8.0},
                       {"low_freq_factor", 1.0},     {"high_freq_factor", 4.0},
                       {"original_max_position_embeddings", 8192}};
  for (const char* key : {"low_freq_factor", "high_freq_factor", "original_max_position_embeddings", "factor"}) {
    json r = llama3;
    r.erase(key);
    j["rope_scaling"] = r;
    EXPECT_TRUE(parse_fails(j, {key, "rope_scaling"})) << key;
  }
  json swapped = llama3;
  swapped["high_freq_factor"] = 0.5;
  j["rope_scaling"] = swapped;
  EXPECT_TRUE(parse_fails(j, {"high_freq_factor"}));

  // yarn: defaults for the optional keys; original_max_position_embeddings required.
  j = deepseek_base();
  j["rope_scaling"] = {{"type", "yarn"}, {"factor", 40}, {"original_max_position_embeddings", 4096}};
  const ModelConfig y = parse_config(j, kSrc);
  EXPECT_EQ(y.rope_scaling.type, "yarn");
  EXPECT_DOUBLE_EQ(y.rope_scaling.beta_fast, 32.0);
  EXPECT_DOUBLE_EQ(y.rope_scaling.beta_slow, 1.0);
  EXPECT_DOUBLE_EQ(y.rope_scaling.mscale, 1.0);
  EXPECT_DOUBLE_EQ(y.rope_scaling.mscale_all_dim, 0.0);
  j["rope_scaling"] = {{"type", "yarn"}, {"factor", 40}};
  EXPECT_TRUE(parse_fails(j, {"original_max_position_embeddings"}));
  // rope_type wins over type when both are present.
  j["rope_scaling"] = {{"type", "yarn"}, {"rope_type", "linear"}, {"factor", 2}};
  EXPECT_EQ(parse_config(j, kSrc).rope_scaling.type, "linear");
}

TEST(ParseConfigTest, HeadsMustGroupEvenly) {
  json j = llama_base();
  j["num_key_value_heads"] = 3;  // 8 heads
  EXPECT_TRUE(parse_fails(j, {"num_attention_heads", "num_key_value_heads", "8", "3"}));
  j["num_key_value_heads"] = 8;
  EXPECT_EQ(parse_config(j, kSrc).num_key_value_heads, 8);
  j["num_key_value_heads"] = 1;
  EXPECT_EQ(parse_config(j, kSrc).kv_values_per_token_per_layer(), 2 * 1 * 8);
}

TEST(ParseConfigTest, Qwen2SlidingWindowRejected) {
  json j = llama_base();
  j["model_type"] = "qwen2";
  j["use_sliding_window"] = true;
  EXPECT_TRUE(parse_fails(j, {"use_sliding_window"}));
  j["use_sliding_window"] = false;
  EXPECT_EQ(parse_config(j, kSrc).model_type, "qwen2");
}

TEST(ParseConfigTest, IsMoeLayer) {
  json j = deepseek_base();
  j["first_k_dense_replace"] = 3;
  j["moe_layer_freq"] = 2;
  j["num_hidden_layers"] = 10;
  const ModelConfig c = parse_config(j, kSrc);
  std::vector<int> moe;
  for (int l = 0; l < 10; ++l)
    if (c.is_moe_layer(l)) moe.push_back(l);
  EXPECT_EQ(moe, (std::vector<int>{4, 6, 8}));  // layer >= 3 and layer % 2 == 0

  j["first_k_dense_replace"] = 0;
  j["moe_layer_freq"] = 1;
  const ModelConfig all = parse_config(j, kSrc);
  for (int l = 0; l < 10; ++l) EXPECT_TRUE(all.is_moe_layer(l)) << l;

  // A dense model never has MoE layers, whatever it says.
  json d = llama_base();
  d["n_routed_experts"] = 8;
  const ModelConfig dense = parse_config(d, kSrc);
  for (int l = 0; l < 2; ++l) EXPECT_FALSE(dense.is_moe_layer(l)) << l;
}

TEST(ParseConfigTest, KvValuesPerTokenPerLayer) {
  // MLA caches the latent plus the rope key: 512 + 64, whatever the head count.
  EXPECT_EQ(parse_config(deepseek_base(), kSrc).kv_values_per_token_per_layer(), 576);
  json j = deepseek_base();
  j["num_attention_heads"] = 16;
  j["num_key_value_heads"] = 16;
  EXPECT_EQ(parse_config(j, kSrc).kv_values_per_token_per_layer(), 576);
  // Dense GQA caches K and V of every KV head: 2 * kv_heads * head_dim.
  json l = llama_base();
  l["head_dim"] = 64;
  EXPECT_EQ(parse_config(l, kSrc).kv_values_per_token_per_layer(), 2 * 2 * 64);
}

}  // namespace
}  // namespace dsinfer::test
