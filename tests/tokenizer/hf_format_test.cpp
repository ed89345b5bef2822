// tokenizer.json features on small hand-written files, and the errors that
// malformed files produce.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "common/testdata.h"
#include "core/error.h"
#include "tokenizer/byte_level.h"
#include "tokenizer/tok_test_util.h"
#include "tokenizer/tokenizer.h"

namespace dsinfer::tokenizer {
namespace {

using nlohmann::json;

// A small valid byte-level BPE tokenizer.json: bytes of "abcdeh lo" and a few merges.
json tiny() {
  json vocab = json::object();
  int id = 0;
  for (char c : std::string("abcdehlo \n1234")) vocab[byte_level::encode(std::string(1, c))] = id++;
  for (const char* t : {"ab", "abc", "he", "ll", "hell", "hello", "\xC4\xA0h"}) vocab[t] = id++;  // "Ġh"
  return json{
      {"version", "1.0"},
      {"added_tokens",
       json::array({json{{"id", 100}, {"content", "<s>"}, {"special", true}, {"normalized", false}},
                    json{{"id", 101}, {"content", "</s>"}, {"special", true}, {"normalized", false}},
                    json{{"id", 102}, {"content", "<tool>"}, {"special", false}, {"lstrip", true}, {"rstrip", true}}})},
      {"normalizer", nullptr},
      {"pre_tokenizer", json{{"type", "ByteLevel"}, {"add_prefix_space", false}, {"use_regex", true}}},
      {"post_processor",
       json{{"type", "TemplateProcessing"},
            {"single", json::array({json{{"SpecialToken", {{"id", "<s>"}, {"type_id", 0}}}},
                                    json{{"Sequence", {{"id", "A"}, {"type_id", 0}}}},
                                    json{{"SpecialToken", {{"id", "</s>"}, {"type_id", 0}}}}})},
            {"special_tokens", {{"<s>", {{"id", "<s>"}, {"ids", {100}}, {"tokens", {"<s>"}}}},
                                {"</s>", {{"id", "</s>"}, {"ids", {101}}, {"tokens", {"</s>"}}}}}}}},
      {"decoder", json{{"type", "ByteLevel"}}},
      {"model", json{{"type", "BPE"},
                     {"vocab", vocab},
                     {"merges", json::array({"a b", json::array({"ab", "c"}), "h e", "l l", "he ll", "hell o",
                                             "\xC4\xA0 h"})}}},
  };
}

class HfFormatTest : public testing::Test {
 protected:
  std::string dir_ = test::make_temp_dir();
  Tokenizer load(const json& j, const std::string& config = "") {
    test::write_all(dir_ + "/tokenizer.json", j.dump());
    if (!config.empty()) test::write_all(dir_ + "/tokenizer_config.json", config);
    return Tokenizer::from_path(dir_);
  }
  // The error message of loading j (fails the test when loading succeeds).
  std::string error_of(const json& j, const std::string& config = "") {
    try {
      load(j, config);
    } catch (const Error& e) {
      return e.what();
    }
    ADD_FAILURE() << "loading succeeded";
    return "";
  }
  std::string error_of_text(const std::string& text) {
    test::write_all(dir_ + "/tokenizer.json", text);
    try {
      Tokenizer::from_path(dir_ + "/tokenizer.json");
    } catch (const Error& e) {
      return e.what();
    }
    ADD_FAILURE() << "loading succeeded";
    return "";
  }
};

#define EXPECT_HAS(haystack, needle) EXPECT_NE((haystack).find(needle), std::string::npos) << (haystack)

TEST_F(HfFormatTest, MergesInBothFormsAndPostProcessor) {
  const Tokenizer tok = load(tiny());
  const int32_t ab = 14, abc = 15, hello = 19;
  EXPECT_EQ(tok.encode("abc", false), (std::vector<int32_t>{abc}));
  EXPECT_EQ(tok.encode("abab", false), (std::vector<int32_t>{ab, ab}));
  EXPECT_EQ(tok.encode("hello", true), (std::vector<int32_t>{100, hello, 101}));
  EXPECT_TRUE(tok.add_bos());
  EXPECT_TRUE(tok.add_eos());
  EXPECT_EQ(tok.bos_id(), 100);  // guessed from the post-processor without tokenizer_config.json
  EXPECT_EQ(tok.eos_id(), 101);
  EXPECT_EQ(tok.decode(tok.encode(" hello\n12", false), false), " hello\n12");
  EXPECT_EQ(tok.vocab_size(), 103);
}

TEST_F(HfFormatTest, AddedTokensStripWhitespace) {
  const Tokenizer tok = load(tiny());
  const auto ids = tok.encode("ab  <tool>  c", false);
  EXPECT_EQ(ids, (std::vector<int32_t>{14, 102, 2}));
  EXPECT_EQ(tok.encode("<s>ab</s>", false), (std::vector<int32_t>{100, 14, 101}));
}

TEST_F(HfFormatTest, ConfigOverridesBosAndGivesTemplate) {
  const Tokenizer tok = load(tiny(), R"({"add_bos_token": true, "add_eos_token": false,
      "bos_token": {"content": "<s>"}, "eos_token": "</s>", "chat_template": "{{ bos_token }}"})");
  EXPECT_EQ(tok.encode("ab", true), (std::vector<int32_t>{100, 14}));
  EXPECT_EQ(tok.eos_id(), 101);
  EXPECT_EQ(tok.eos_token(), "</s>");
  EXPECT_EQ(tok.chat_template(), "{{ bos_token }}");
  test::write_all(dir_ + "/chat_template.jinja", "from file");
  EXPECT_EQ(Tokenizer::from_path(dir_).chat_template(), "from file");
}

TEST_F(HfFormatTest, SequenceOfSplitsDigitsAndNormalizers) {
  json j = tiny();
  j["pre_tokenizer"] = json{{"type", "Sequence"},
                            {"pretokenizers", json::array({json{{"type", "Digits"}, {"individual_digits", true}},
                                                           json{{"type", "Split"},
                                                                {"pattern", {{"String", " "}}},
                                                                {"behavior", "MergedWithNext"},
                                                                {"invert", false}},
                                                           json{{"type", "ByteLevel"}, {"add_prefix_space", false},
                                                                {"use_regex", false}}})}};
  j["normalizer"] = json{{"type", "Sequence"},
                         {"normalizers", json::array({json{{"type", "Replace"}, {"pattern", {{"Regex", "x+"}}}, {"content", "h"}},
                                                      json{{"type", "Prepend"}, {"prepend", " "}}})}};
  const Tokenizer tok = load(j);
  EXPECT_EQ(tok.pre_tokenize("xello 12"), (std::vector<std::string>{" hello", " ", "1", "2"}));
}

TEST_F(HfFormatTest, MalformedFilesGiveClearErrors) {
  EXPECT_HAS(error_of_text("{\"model\": "), "invalid JSON");
  EXPECT_HAS(error_of_text("[1, 2]"), "expected a JSON object");
  json j = tiny();
  j.erase("model");
  EXPECT_HAS(error_of(j), "missing field 'model'");
  j = tiny();
  j["model"]["type"] = "Unigram";
  EXPECT_HAS(error_of(j), "model.type: unsupported model type 'Unigram'");
  j = tiny();
  j["model"]["vocab"]["zz"] = "seven";
  EXPECT_HAS(error_of(j), "model.vocab.zz: expected an integer id");
  j = tiny();
  j["model"]["merges"].push_back("abc");
  EXPECT_HAS(error_of(j), "model.merges[7]: merge 'abc' is not two tokens separated by one space");
  j = tiny();
  j["model"]["merges"].push_back("a q");
  EXPECT_HAS(error_of(j), "merge #7 ('a' + 'q'): token 'q' is not in the vocabulary");
  j = tiny();
  j["model"]["merges"].push_back(json::array({1, 2}));
  EXPECT_HAS(error_of(j), "model.merges[7]: a merge must be");
  j = tiny();
  j["model"]["vocab"]["dup"] = 0;
  EXPECT_HAS(error_of(j), "id 0 is used by two vocabulary tokens");
  j = tiny();
  j["added_tokens"][0].erase("content");
  EXPECT_HAS(error_of(j), "added_tokens[0]: missing field 'content'");
  j = tiny();
  j["pre_tokenizer"] = json{{"type", "Metaspace"}};
  EXPECT_HAS(error_of(j), "pre_tokenizer.type: unsupported pre-tokenizer 'Metaspace'");
  j = tiny();
  j["pre_tokenizer"] = nullptr;
  EXPECT_HAS(error_of(j), "has no ByteLevel step");
  j = tiny();
  j["pre_tokenizer"] = json{{"type", "Sequence"},
                            {"pretokenizers", json::array({json{{"type", "Split"}, {"pattern", {{"Regex", "(["}}},
                                                                {"behavior", "Isolated"}},
                                                           json{{"type", "ByteLevel"}}})}};
  EXPECT_HAS(error_of(j), "invalid regex /([/");
  j = tiny();
  j["pre_tokenizer"] = json{{"type", "Split"}, {"pattern", {{"Regex", "a"}}}, {"behavior", "Sideways"}};
  EXPECT_HAS(error_of(j), "pre_tokenizer.behavior: unknown split behavior 'Sideways'");
  j = tiny();
  j["normalizer"] = json{{"type", "NFKD"}};
  EXPECT_HAS(error_of(j), "normalizer.type: unsupported normalizer 'NFKD'");
  j = tiny();
  j["decoder"] = json{{"type", "WordPiece"}};
  EXPECT_HAS(error_of(j), "decoder.type: unsupported decoder 'WordPiece'");
  j = tiny();
  j["post_processor"]["single"][0]["SpecialToken"]["id"] = "<nope>";
  EXPECT_HAS(error_of(j), "special token '<nope>' is not defined");
  EXPECT_HAS(error_of(tiny(), R"({"bos_token": "<missing>"})"), "bos_token: token '<missing>' is not in the vocabulary");
  EXPECT_HAS(error_of(tiny(), R"({"add_bos_token": "yes"})"), "add_bos_token: expected true or false");
  const std::string msg = error_of(tiny(), "{oops");
  EXPECT_HAS(msg, "tokenizer_config.json: invalid JSON");
}

TEST_F(HfFormatTest, BadPathsGiveClearErrors) {
  try {
    Tokenizer::from_path(dir_ + "/nope");
    FAIL();
  } catch (const Error& e) {
    EXPECT_HAS(std::string(e.what()), "does not exist");
  }
  try {
    Tokenizer::from_path(dir_);
    FAIL();
  } catch (const Error& e) {
    EXPECT_HAS(std::string(e.what()), "has neither tokenizer.json nor a .gguf file");
  }
}

}  // namespace
}  // namespace dsinfer::tokenizer
