// Finding a model's chat template and special tokens, the render context
// transformers builds, and the `dsinfer chat-template` command.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <nlohmann/json.hpp>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "common/testdata.h"
#include "core/error.h"
#include "jinja/chat_template.h"

namespace dsinfer::jinja {
namespace {

namespace fs = std::filesystem;
using Json = nlohmann::ordered_json;

void write_file(const std::string& path, const std::string& text) {
  std::ofstream f(path, std::ios::binary);
  f << text;
}

std::string read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
}

const char* const kTemplate =
    "{{ bos_token }}{% for m in messages %}<{{ m.role }}>{{ m.content }}{% endfor %}"
    "{% if add_generation_prompt %}<assistant>{% endif %}{% if tools %}[tools]{% endif %}|{{ eos_token }}";

class ChatTemplateTest : public ::testing::Test {
 protected:
  std::string dir_ = test::make_temp_dir();
  void TearDown() override { fs::remove_all(dir_); }

  // A tokenizer_config.json with AddedToken-style special tokens.
  void put_config(const Json& chat_template) {
    Json cfg = {{"bos_token", {{"__type", "AddedToken"}, {"content", "<s>"}, {"lstrip", false}}},
                {"eos_token", "</s>"},
                {"chat_template", chat_template}};
    write_file(dir_ + "/tokenizer_config.json", cfg.dump(2));
  }
};

Json conversation(bool gen_prompt) {
  return Json{{"messages", {{{"role", "user"}, {"content", "hi"}}}}, {"add_generation_prompt", gen_prompt}};
}

TEST_F(ChatTemplateTest, ModelDirectoryWithTokenizerConfig) {
  put_config(kTemplate);
  ChatTemplateConfig cfg = load_chat_template(dir_);
  ASSERT_TRUE(cfg.bos_token.has_value());
  EXPECT_EQ(*cfg.bos_token, "<s>");
  EXPECT_EQ(*cfg.eos_token, "</s>");
  EXPECT_EQ(apply_chat_template(cfg, conversation(true)), "<s><user>hi<assistant>|</s>");
  EXPECT_EQ(apply_chat_template(cfg, conversation(false)), "<s><user>hi|</s>");
  // The tokenizer_config.json file itself works the same.
  EXPECT_EQ(apply_chat_template(load_chat_template(dir_ + "/tokenizer_config.json"), conversation(true)),
            "<s><user>hi<assistant>|</s>");
}

TEST_F(ChatTemplateTest, ConversationTokensOverrideTheModels) {
  put_config(kTemplate);
  Json conv = conversation(false);
  conv["bos_token"] = "[B]";
  conv["eos_token"] = "[E]";
  EXPECT_EQ(apply_chat_template(load_chat_template(dir_), conv), "[B]<user>hi|[E]");
}

TEST_F(ChatTemplateTest, NamedTemplatesPickToolUseWhenToolsAreGiven) {
  put_config(Json::array({{{"name", "default"}, {"template", "default"}}, {{"name", "tool_use"}, {"template", "tools"}}}));
  ChatTemplateConfig cfg = load_chat_template(dir_);
  EXPECT_EQ(apply_chat_template(cfg, conversation(false)), "default");
  Json conv = conversation(false);
  conv["tools"] = Json::array({{{"type", "function"}}});
  EXPECT_EQ(apply_chat_template(cfg, conv), "tools");
}

TEST_F(ChatTemplateTest, ChatTemplateJinjaFileTakesPrecedence) {
  put_config("from config");
  write_file(dir_ + "/chat_template.jinja", "from file {{ bos_token }}\n");
  EXPECT_EQ(apply_chat_template(load_chat_template(dir_), conversation(false)), "from file <s>");
}

TEST_F(ChatTemplateTest, JinjaFileHasNoSpecialTokens) {
  write_file(dir_ + "/t.jinja", "{{ bos_token is defined }}{{ messages|length }}");
  ChatTemplateConfig cfg = load_chat_template(dir_ + "/t.jinja");
  EXPECT_FALSE(cfg.bos_token.has_value());
  EXPECT_EQ(apply_chat_template(cfg, conversation(false)), "False1");
}

TEST_F(ChatTemplateTest, ContextLikeTransformers) {
  ChatTemplateConfig cfg;
  cfg.bos_token = "<s>";
  Json conv = conversation(true);
  conv["enable_thinking"] = true;
  conv["eos_token"] = nullptr;
  Json ctx = chat_context(conv, cfg);
  EXPECT_EQ(ctx.dump(),
            R"({"messages":[{"role":"user","content":"hi"}],"tools":null,"documents":null,)"
            R"("add_generation_prompt":true,"bos_token":"<s>","enable_thinking":true})");
  EXPECT_EQ(chat_context(Json{{"messages", Json::array()}}, ChatTemplateConfig{})["add_generation_prompt"], false);
  EXPECT_THROW(chat_context(Json{{"tools", Json::array()}}, cfg), Error);
}

TEST_F(ChatTemplateTest, MissingTemplatesAndGgufAreErrors) {
  EXPECT_THROW(load_chat_template(dir_), Error);  // empty directory
  write_file(dir_ + "/tokenizer_config.json", R"({"bos_token": "<s>"})");
  EXPECT_THROW(load_chat_template(dir_), Error);
  EXPECT_THROW(load_chat_template(dir_ + "/missing.jinja"), Error);
  try {
    load_chat_template(dir_ + "/model.gguf");
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("not yet supported"), std::string::npos) << e.what();
  }
}

TEST_F(ChatTemplateTest, TemplateErrorsNameTheOrigin) {
  put_config("{{ raise_exception('nope') }}");
  try {
    apply_chat_template(load_chat_template(dir_), conversation(false));
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()), "chat template " + dir_ + "/tokenizer_config.json: template line 1: nope");
  }
}

// ---- the dsinfer binary ----

struct CliResult {
  int exit_code = -1;
  std::string out, err;
};

CliResult run_dsinfer(const std::string& dir, const std::vector<std::string>& args) {
  std::string cmd = "'" + test::dsinfer_binary() + "'";
  for (const auto& a : args) cmd += " '" + a + "'";
  cmd += " >'" + dir + "/stdout' 2>'" + dir + "/stderr'";
  int status = std::system(cmd.c_str());
  CliResult r;
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  r.out = read_file(dir + "/stdout");
  r.err = read_file(dir + "/stderr");
  return r;
}

class ChatTemplateCli : public ChatTemplateTest {
 protected:
  void SetUp() override {
    if (!fs::exists(test::dsinfer_binary())) {
      GTEST_SKIP() << "*** " << test::dsinfer_binary() << " NOT BUILT: build target dsinfer; SKIPPED, not passed ***";
    }
  }
};

TEST_F(ChatTemplateCli, PrintsThePromptExactly) {
  put_config(kTemplate);
  write_file(dir_ + "/conv.json", conversation(true).dump());
  CliResult r = run_dsinfer(dir_, {"chat-template", "--model", dir_, "--input", dir_ + "/conv.json"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "<s><user>hi<assistant>|</s>");  // no newline added
  EXPECT_EQ(r.err, "");
}

TEST_F(ChatTemplateCli, RendersTheQwenTemplateLikeJinja2) {
  REQUIRE_TESTDATA(td);
  Json entries = Json::parse(read_file(td + "/templates/renders.json"));
  for (const auto& e : entries) {
    if (e["template"] != "Qwen-Qwen2.5-7B-Instruct.jinja" || e["case"] != "tool_call_and_result") continue;
    Json conv = {{"messages", e["messages"]}, {"tools", e["tools"]}, {"add_generation_prompt", e["add_generation_prompt"]},
                 {"eos_token", e["eos_token"]}};
    write_file(dir_ + "/conv.json", conv.dump());
    CliResult r = run_dsinfer(dir_, {"chat-template", "--model", td + "/templates/" + e["template"].get<std::string>(),
                               "--input", dir_ + "/conv.json"});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(r.out, e["expected"].get<std::string>());
    return;
  }
  FAIL() << "case not found in renders.json";
}

TEST_F(ChatTemplateCli, TemplateErrorExitsWithOne) {
  put_config("ok\n{{ raise_exception('Conversation roles must alternate') }}");
  write_file(dir_ + "/conv.json", conversation(true).dump());
  CliResult r = run_dsinfer(dir_, {"chat-template", "--model", dir_, "--input", dir_ + "/conv.json"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.out, "");
  EXPECT_NE(r.err.find("template line 2: Conversation roles must alternate"), std::string::npos) << r.err;
}

TEST_F(ChatTemplateCli, GgufAndUsageErrors) {
  write_file(dir_ + "/conv.json", conversation(true).dump());
  CliResult gguf = run_dsinfer(dir_, {"chat-template", "--model", dir_ + "/m.gguf", "--input", dir_ + "/conv.json"});
  EXPECT_EQ(gguf.exit_code, 1);
  EXPECT_NE(gguf.err.find(dir_ + "/m.gguf"), std::string::npos) << gguf.err;
  CliResult missing = run_dsinfer(dir_, {"chat-template", "--model", dir_});
  EXPECT_EQ(missing.exit_code, 2) << missing.err;
  put_config(kTemplate);
  write_file(dir_ + "/bad.json", "{not json");
  CliResult bad = run_dsinfer(dir_, {"chat-template", "--model", dir_, "--input", dir_ + "/bad.json"});
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_NE(bad.err.find("invalid JSON"), std::string::npos) << bad.err;
}

}  // namespace
}  // namespace dsinfer::jinja

namespace dsinfer::test {
namespace {

// The vocabulary-only GGUF files carry no template: a clear error naming the file, not a crash.
TEST(ChatTemplateGguf, VocabularyWithoutTemplateIsAClearError) {
  REQUIRE_TESTDATA(td);
  const std::string dir = make_temp_dir();
  std::ofstream(dir + "/conv.json") << R"({"messages":[{"role":"user","content":"Hi"}],"add_generation_prompt":true})";
  const std::string gguf = td + "/tokenizers/ggml-vocab-deepseek-llm.gguf";
  const std::string cmd = "'" + dsinfer_binary() + "' chat-template --model '" + gguf + "' --input '" + dir +
                          "/conv.json' >/dev/null 2>'" + dir + "/err'";
  const int status = std::system(cmd.c_str());
  std::ifstream f(dir + "/err");
  const std::string err((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  EXPECT_EQ(WEXITSTATUS(status), 1);
  EXPECT_NE(err.find("no tokenizer.chat_template"), std::string::npos) << err;
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace dsinfer::test
