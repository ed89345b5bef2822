// Checkpoints that contradict their config, or FP8 ones missing what FP8
// needs, fail at load with a message naming the tensor; and an FP8 checkpoint
// computes exactly what its dequantized F32 twin computes.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "common/testdata.h"
#include "core/error.h"
#include "model/model_test_util.h"
#include "common/synth_checkpoint.h"

namespace dsinfer::test {
namespace {

void rewrite_config(const std::string& dir, const std::function<void(nlohmann::json&)>& edit) {
  nlohmann::json c = nlohmann::json::parse(std::ifstream(dir + "/config.json"));
  edit(c);
  std::ofstream(dir + "/config.json") << c.dump();
}

TEST(ModelLoad, Fp8EqualsItsDequantizedTwin) {
  const std::string dir = make_temp_dir(), twin = make_temp_dir();
  // Block 32 on dims 200, 72, 40...: partial edge blocks in both directions.
  write_synth_checkpoint(dir, tiny_deepseek_v3_config(), {.seed = 9, .fp8 = true, .fp8_block = 32, .f32_twin_dir = twin});
  Loaded a = load(dir), b = load(twin);
  const auto t = random_tokens(23, 300, 3);
  EXPECT_LT(worst_rel_l2(run_tokens(*a.model, t), run_tokens(*b.model, t), 300), 1e-6);
  std::filesystem::remove_all(dir);
  std::filesystem::remove_all(twin);
}

TEST(ModelLoad, WrongKvLoraRankNamesTheTensor) {
  const std::string dir = make_temp_dir();
  write_synth_checkpoint(dir, tiny_deepseek_v3_config(), {});
  rewrite_config(dir, [](nlohmann::json& c) { c["kv_lora_rank"] = 48; });
  const std::string e = load_error(dir);
  EXPECT_NE(e.find("model.layers.0.self_attn.kv_a_proj_with_mqa.weight"), std::string::npos) << e;
  EXPECT_NE(e.find("expected [56, 200]"), std::string::npos) << e;
  std::filesystem::remove_all(dir);
}

TEST(ModelLoad, MissingScaleInvNamesIt) {
  const std::string dir = make_temp_dir();
  write_synth_checkpoint(dir, tiny_deepseek_v3_config(), {.fp8 = true, .drop_scales = true});
  const std::string e = load_error(dir);
  EXPECT_NE(e.find("weight_scale_inv"), std::string::npos) << e;
  EXPECT_NE(e.find("missing"), std::string::npos) << e;
  std::filesystem::remove_all(dir);
}

TEST(ModelLoad, Fp8WithoutQuantizationConfigIsAnError) {
  const std::string dir = make_temp_dir();
  write_synth_checkpoint(dir, tiny_deepseek_v3_config(), {.fp8 = true});
  rewrite_config(dir, [](nlohmann::json& c) { c.erase("quantization_config"); });
  const std::string e = load_error(dir);
  EXPECT_NE(e.find("F8_E4M3"), std::string::npos) << e;
  EXPECT_NE(e.find("quantization_config"), std::string::npos) << e;
  EXPECT_NE(e.find(".weight"), std::string::npos) << e;
  std::filesystem::remove_all(dir);
}

TEST(ModelLoad, MissingTensorIsNamed) {
  const std::string dir = make_temp_dir();
  write_synth_checkpoint(dir, tiny_qwen2_config(), {});
  rewrite_config(dir, [](nlohmann::json& c) { c["num_hidden_layers"] = 3; });
  const std::string e = load_error(dir);
  EXPECT_NE(e.find("model.layers.2."), std::string::npos) << e;
  EXPECT_NE(e.find("missing"), std::string::npos) << e;
  std::filesystem::remove_all(dir);
}

TEST(ModelLoad, MtpLayerIsSkippedNotAnError) {
  const std::string dir = make_temp_dir(), plain = make_temp_dir();
  write_synth_checkpoint(dir, tiny_deepseek_v3_config(), {.seed = 4, .add_mtp_layer = true});
  write_synth_checkpoint(plain, tiny_deepseek_v3_config(), {.seed = 4});
  Loaded a = load(dir), b = load(plain);
  EXPECT_EQ(a.model->config().num_nextn_predict_layers, 1);
  const auto t = random_tokens(9, 300, 1);
  // The MTP layer's tensors come after the last layer's, so the shared tensors are drawn identically.
  EXPECT_LT(worst_rel_l2(run_tokens(*a.model, t), run_tokens(*b.model, t), 300), 1e-6);
  std::filesystem::remove_all(dir);
  std::filesystem::remove_all(plain);
}

TEST(ModelForward, TokenOutsideVocabularyIsAnError) {
  const std::string dir = make_temp_dir();
  write_synth_checkpoint(dir, tiny_qwen2_config(), {});
  Loaded m = load(dir);
  EXPECT_THROW(run_tokens(*m.model, {1, 300}), Error);
  EXPECT_THROW(run_tokens(*m.model, {-1}), Error);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace dsinfer::test
