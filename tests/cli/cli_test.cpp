// The dsinfer command line as a user (and outside checks) see it.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "cli/run_binary.h"
#include "common/testdata.h"

namespace dsinfer::test {
namespace {

size_t count_lines(const std::string& s) { return static_cast<size_t>(std::count(s.begin(), s.end(), '\n')); }

void expect_usage_error(const std::vector<std::string>& args, const std::string& mention) {
  const CmdResult r = run_dsinfer(args);
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_EQ(count_lines(r.err), 1u) << "expected a one-line error, got: " << r.err;
  EXPECT_NE(r.err.find(mention), std::string::npos) << r.err;
}

TEST(Cli, HelpOnEveryCommand) {
  for (const char* c : {"logits", "generate", "inspect", "tokenize", "chat-template"}) {
    const CmdResult r = run_dsinfer({c, "--help"});
    EXPECT_EQ(r.exit_code, 0) << c;
    EXPECT_NE(r.out.find("--"), std::string::npos) << c << " help lists no options";
  }
  const CmdResult top = run_dsinfer({"--help"});
  EXPECT_EQ(top.exit_code, 0);
  EXPECT_NE(top.out.find("logits"), std::string::npos);
}

TEST(Cli, UsageErrorsExitTwoWithOneLine) {
  expect_usage_error({}, "subcommand");
  expect_usage_error({"no-such-command"}, "no-such-command");
  expect_usage_error({"logits", "--input", "x.json", "--output", "y.json"}, "--model");
  expect_usage_error({"logits", "--model", "/nonexistent/dir", "--input", "a", "--output", "b"}, "/nonexistent/dir");
  expect_usage_error({"generate", "--model", "/tmp", "--tokens", "1,x,3"}, "x");
  expect_usage_error({"generate", "--model", "/tmp", "--tokens", "1", "--max-tokens", "-4"}, "max-tokens");
  expect_usage_error({"generate", "--model", "/tmp", "--tokens", "1", "--bogus"}, "--bogus");
  expect_usage_error({"logits", "--model", "/tmp", "--input", "a", "--output", "b", "--backend", "gpu9"}, "gpu9");
}

TEST(Cli, RuntimeErrorsExitOneAndNameTheProblem) {
  const std::string dir = make_temp_dir();
  std::ofstream(dir + "/config.json") << R"({"model_type": "gpt_neox"})";
  const CmdResult r = run_dsinfer({"generate", "--model", dir, "--tokens", "1"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("gpt_neox"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("deepseek_v3"), std::string::npos) << "should list supported types: " << r.err;
  std::filesystem::remove_all(dir);
}

// serve takes hub repo ids as run does (ORG/NAME:QUANT too): offline, with an
// empty cache, it says where it looked instead of treating the id as a path.
TEST(Cli, ServeResolvesHubIds) {
  const CmdResult r = run_dsinfer({"serve", "acme/tiny-GGUF:Q4_K_M", "--offline", "--port", "0"});
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_NE(r.err.find("acme/tiny-GGUF (revision main) is not in the Hugging Face cache"), std::string::npos) << r.err;
}

TEST(Cli, LogitsCommandMatchesReference) {
  REQUIRE_TESTDATA(td);
  const std::string dir = make_temp_dir();
  const nlohmann::json ref = nlohmann::json::parse(std::ifstream(td + "/reference/ds2-lite-tiny.json"));
  nlohmann::json in = {{"cases", nlohmann::json::array()}};
  for (const auto& c : ref["cases"]) in["cases"].push_back({{"tokens", c["tokens"]}, {"id", c["tokens"].size()}});
  std::ofstream(dir + "/in.json") << in.dump();
  // f32: the float32-activation path (the default rounds a bf16 model's
  // activations to bf16 on CPUs with bf16 dot products: BenchCli).
  const CmdResult r = run_dsinfer({"logits", "--model", td + "/reference/models/ds2-lite-tiny", "--input",
                                   dir + "/in.json", "--output", dir + "/out.json", "--activations", "f32"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const nlohmann::json out = nlohmann::json::parse(std::ifstream(dir + "/out.json"));
  ASSERT_EQ(out["cases"].size(), ref["cases"].size());
  for (size_t i = 0; i < ref["cases"].size(); ++i) {
    const auto& o = out["cases"][i];
    EXPECT_EQ(o["id"], ref["cases"][i]["tokens"].size()) << "other keys of a case are kept";
    ASSERT_EQ(o["logits"].size(), ref["cases"][i]["tokens"].size());
    for (size_t p = 0; p < o["logits"].size(); ++p) {
      const auto got = o["logits"][p].get<std::vector<double>>();
      const auto want = ref["cases"][i]["logits"][p].get<std::vector<double>>();
      ASSERT_EQ(got.size(), 1024u);
      double num = 0, den = 0;
      for (size_t v = 0; v < got.size(); ++v) {
        num += (got[v] - want[v]) * (got[v] - want[v]);
        den += want[v] * want[v];
      }
      EXPECT_LT(std::sqrt(num / den), 1e-3) << "case " << i << " position " << p;
    }
  }
  std::filesystem::remove_all(dir);
}

TEST(Cli, LogitsPrintsAtLeastSevenSignificantDigits) {
  REQUIRE_TESTDATA(td);
  const std::string dir = make_temp_dir();
  std::ofstream(dir + "/in.json") << R"({"cases":[{"tokens":[5,6,7]}]})";
  const CmdResult r = run_dsinfer({"logits", "--model", td + "/reference/models/qwen2-tiny", "--input",
                                   dir + "/in.json", "--output", dir + "/out.json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::ifstream f(dir + "/out.json");
  const std::string text((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  // Find a number and count its significant digits.
  const size_t at = text.find("[[") + 2;
  const std::string num = text.substr(at, text.find_first_of(",]", at) - at);
  size_t digits = 0;
  bool leading = true;
  for (char c : num) {
    if (c == 'e' || c == 'E') break;
    if (!std::isdigit(static_cast<unsigned char>(c))) continue;
    if (leading && c == '0') continue;
    leading = false;
    ++digits;
  }
  EXPECT_GE(digits, 7u) << num;
  std::filesystem::remove_all(dir);
}

TEST(Cli, GenerateMatchesReferenceGreedy) {
  REQUIRE_TESTDATA(td);
  const nlohmann::json ref = nlohmann::json::parse(std::ifstream(td + "/reference/llama-tiny.json"));
  std::string prompt, want;
  for (const auto& t : ref["greedy"]["prompt"]) prompt += (prompt.empty() ? "" : ",") + std::to_string(t.get<int>());
  for (const auto& t : ref["greedy"]["tokens"]) want += (want.empty() ? "" : ",") + std::to_string(t.get<int>());
  const CmdResult r = run_dsinfer({"generate", "--model", td + "/reference/models/llama-tiny", "--tokens", prompt,
                                   "--max-tokens", "16"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, want + "\n");
}

// quantize --output NAME.gguf, then generate from the file: the greedy ids of
// the quantized directory (a reference model has no tokenizer.json: a warning).
TEST(Cli, GenerateTakesAGgufFile) {
  REQUIRE_TESTDATA(td);
  const std::string dir = make_temp_dir();
  const std::string model = td + "/reference/models/llama-tiny";  // ds2: attn_k_b is requantized
  for (const std::string& out : {dir + "/q8", dir + "/q8.gguf"}) {
    const CmdResult q = run_dsinfer({"quantize", "--model", model, "--type", "q8_0", "--output", out});
    ASSERT_EQ(q.exit_code, 0) << q.err;
    if (out.ends_with(".gguf")) {
      EXPECT_NE(q.err.find("no tokenizer.json"), std::string::npos) << q.err;
    }
  }
  std::string outs[2];
  for (int i = 0; i < 2; ++i) {
    const CmdResult r = run_dsinfer({"generate", "--model", dir + (i ? "/q8.gguf" : "/q8"), "--tokens", "5,6,7,8",
                                     "--max-tokens", "12"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    outs[i] = r.out;
  }
  EXPECT_EQ(std::count(outs[0].begin(), outs[0].end(), ','), 11) << outs[0];
  EXPECT_EQ(outs[1], outs[0]);
  std::filesystem::remove_all(dir);
}

TEST(Cli, InspectReportsMlaCacheAndActiveParameters) {
  REQUIRE_TESTDATA(td);
  const CmdResult r = run_dsinfer({"inspect", "--json", "--model", td + "/reference/models/ds3-tiny"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["kv_cache_values_per_token"], 4 * (64 + 16));
  EXPECT_LT(j["params_active_per_token"].get<int64_t>(), j["params_total"].get<int64_t>());
  // A prompt token multiplies neither the embedding table (looked up) nor the
  // lm_head (the last token's only): ds3-tiny stores both, untied.
  const int64_t table = j["vocab_size"].get<int64_t>() * j["hidden_size"].get<int64_t>();
  EXPECT_EQ(j["params_lm_head"].get<int64_t>(), table);
  EXPECT_EQ(j["params_multiplied_per_prompt_token"].get<int64_t>(), j["params_active_per_token"].get<int64_t>() - 2 * table);
  EXPECT_GT(j["decode_weight_bytes_per_token"].get<int64_t>(), 0);
  EXPECT_EQ(j["weight_bytes_by_dtype"].size(), 2u);  // BF16 weights and the F32 correction bias
}

}  // namespace
}  // namespace dsinfer::test
