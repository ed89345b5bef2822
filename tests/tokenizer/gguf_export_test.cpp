// tokenizer.json written as GGUF tokenizer keys, against llama.cpp's own
// conversions of the same vocabularies (the ggml-vocab-*.gguf files), and the
// written file tokenizing the vocabulary test cases as Hugging Face does.
#include <gtest/gtest.h>

#include <filesystem>

#include "common/testdata.h"
#include "io/gguf.h"
#include "tokenizer/gguf_export.h"
#include "tokenizer/tok_test_util.h"
#include "tokenizer/tokenizer.h"

namespace dsinfer::tokenizer {
namespace {

class GgufTokenizerExport : public testing::TestWithParam<std::string> {};

TEST_P(GgufTokenizerExport, WritesWhatLlamaCppWrites) {
  REQUIRE_TESTDATA(td);
  const std::string name = GetParam();
  const io::GgufFile theirs(td + "/tokenizers/ggml-vocab-" + name + ".gguf");
  const auto their_tokens = theirs.get_string_array("tokenizer.ggml.tokens").value();
  io::GgufWriter w;
  add_gguf_tokenizer(td + "/tokenizers/" + name, static_cast<int64_t>(their_tokens.size()), w);
  const std::string dir = test::make_temp_dir(), path = dir + "/tok.gguf";
  w.write(path);
  const io::GgufFile ours(path);
  const auto our_tokens = ours.get_string_array("tokenizer.ggml.tokens").value();
  ASSERT_EQ(our_tokens.size(), their_tokens.size());
  const auto our_types = ours.get_int_array("tokenizer.ggml.token_type").value();
  const auto their_types = theirs.get_int_array("tokenizer.ggml.token_type").value();
  // These files come from a converter before two later changes that ours
  // follows: padding ids became UNUSED (5), and added tokens that look
  // special (<｜...｜>, <|...|>, <pad>) CONTROL (3); both were USER_DEFINED (4).
  const auto same_type = [&](size_t i) {
    if (our_types[i] == their_types[i]) return true;
    const bool pad = our_tokens[i].starts_with("[PAD");
    return their_types[i] == 4 && ((pad && our_types[i] == 5) || (!pad && our_types[i] == 3));
  };
  int differ = 0;
  for (size_t i = 0; i < our_tokens.size(); ++i) {
    const bool same = our_tokens[i] == their_tokens[i] && same_type(i);
    if (!same && ++differ <= 5)
      ADD_FAILURE() << "token " << i << ": ours \"" << our_tokens[i] << "\" type " << our_types[i] << ", llama.cpp's \""
                    << their_tokens[i] << "\" type " << their_types[i];
  }
  EXPECT_EQ(differ, 0);
  EXPECT_EQ(ours.get_string_array("tokenizer.ggml.merges").value(), theirs.get_string_array("tokenizer.ggml.merges").value());
  for (const char* key : {"tokenizer.ggml.model", "tokenizer.ggml.pre"})
    EXPECT_EQ(ours.get_string(key).value(), theirs.get_string(key).value()) << key;
  for (const char* key : {"tokenizer.ggml.bos_token_id", "tokenizer.ggml.eos_token_id"})
    EXPECT_EQ(ours.get_int(key).value(), theirs.get_int(key).value()) << key;
  EXPECT_EQ(ours.get_bool("tokenizer.ggml.add_bos_token"), theirs.get_bool("tokenizer.ggml.add_bos_token"));
  // And the written file tokenizes as Hugging Face does.
  const Tokenizer tok = Tokenizer::from_path(path);
  const std::string base = td + "/tokenizers/ggml-vocab-" + name + ".gguf";
  int failures = 0;
  for (const auto& c : test::read_vocab_cases(base + ".inp", base + ".out")) failures += tok.encode(c.text, false) != c.ids;
  EXPECT_EQ(failures, 0);
  std::filesystem::remove_all(dir);
}

INSTANTIATE_TEST_SUITE_P(DeepSeek, GgufTokenizerExport, testing::Values("deepseek-llm", "deepseek-coder"),
                         [](const auto& i) {
                           std::string n = i.param;
                           for (char& c : n) c = c == '-' ? '_' : c;
                           return n;
                         });

TEST(GgufTokenizerExport, ANormalizerHasNoGgufForm) {
  const std::string dir = test::make_temp_dir();
  test::write_all(dir + "/tokenizer.json", R"({"model": {"type": "BPE", "vocab": {"a": 0, "b": 1, "ab": 2}, "merges": ["a b"]},
    "normalizer": {"type": "NFC"}, "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": false, "use_regex": true},
    "added_tokens": []})");
  io::GgufWriter w;
  try {
    add_gguf_tokenizer(dir, 3, w);
    ADD_FAILURE() << "a tokenizer with a normalizer was written";
  } catch (const std::exception& e) {
    EXPECT_NE(std::string(e.what()).find("normalizer has no GGUF form"), std::string::npos) << e.what();
  }
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace dsinfer::tokenizer
