// The real DeepSeek vocabularies against the ids Hugging Face produced, through
// both loading paths (GGUF and tokenizer.json).
#include <gtest/gtest.h>

#include <cstdlib>
#include <map>
#include <memory>

#include "common/testdata.h"
#include "tokenizer/tokenizer.h"
#include "core/error.h"
#include "tokenizer/tok_test_util.h"

namespace dsinfer::tokenizer {
namespace {

using test::read_vocab_cases;
using test::show;

// Loading a vocabulary takes a moment; each one is loaded once per process.
const Tokenizer& cached(const std::string& path) {
  static std::map<std::string, std::unique_ptr<Tokenizer>> cache;
  auto& slot = cache[path];
  if (!slot) slot = std::make_unique<Tokenizer>(Tokenizer::from_path(path));
  return *slot;
}

std::string tok_dir(const std::string& td) { return td + "/tokenizers"; }

void expect_cases(const Tokenizer& tok, const std::string& inp, const std::string& out, const std::string& label) {
  const auto cases = read_vocab_cases(inp, out);
  ASSERT_EQ(cases.size(), 46u) << inp;
  int failures = 0;
  for (size_t k = 0; k < cases.size(); ++k) {
    const auto ids = tok.encode(cases[k].text, false);
    EXPECT_EQ(ids, cases[k].ids) << label << " case " << k << ": \"" << show(cases[k].text) << "\"";
    failures += ids != cases[k].ids;
  }
  EXPECT_EQ(failures, 0) << label;
}

struct VocabParam {
  std::string name;  // deepseek-llm / deepseek-coder
  bool gguf;         // load the .gguf (else the tokenizer.json directory)
};

std::string param_name(const testing::TestParamInfo<VocabParam>& p) {
  std::string n = p.param.name + (p.param.gguf ? "_gguf" : "_hf");
  for (char& c : n) c = c == '-' ? '_' : c;
  return n;
}

class VocabTest : public testing::TestWithParam<VocabParam> {
 protected:
  const Tokenizer& load(const std::string& td) const {
    const auto& p = GetParam();
    return cached(p.gguf ? tok_dir(td) + "/ggml-vocab-" + p.name + ".gguf" : tok_dir(td) + "/" + p.name);
  }
};

TEST_P(VocabTest, CurrentCasesMatchHuggingFace) {
  REQUIRE_TESTDATA(td);
  const std::string base = tok_dir(td) + "/ggml-vocab-" + GetParam().name + ".gguf";
  expect_cases(load(td), base + ".inp", base + ".out", param_name({GetParam(), 0}));
}

TEST_P(VocabTest, OlderCasesMatchHuggingFace) {
  REQUIRE_TESTDATA(td);
  const std::string base = tok_dir(td) + "/older-tests/ggml-vocab-" + GetParam().name + ".gguf";
  expect_cases(load(td), base + ".inp", base + ".out", param_name({GetParam(), 0}));
}

TEST_P(VocabTest, AddSpecialTokensPrependsBos) {
  REQUIRE_TESTDATA(td);
  const Tokenizer& tok = load(td);
  const std::string base = tok_dir(td) + "/ggml-vocab-" + GetParam().name + ".gguf";
  EXPECT_TRUE(tok.add_bos());
  EXPECT_FALSE(tok.add_eos());
  for (const auto& c : read_vocab_cases(base + ".inp", base + ".out")) {
    std::vector<int32_t> want{tok.bos_id()};
    want.insert(want.end(), c.ids.begin(), c.ids.end());
    EXPECT_EQ(tok.encode(c.text, true), want) << show(c.text);
  }
}

// Decoding gives the input back, except that the 13 single-character added
// tokens (images of bytes that never occur in UTF-8) decode to their byte.
TEST_P(VocabTest, DecodeEncodeRoundTrips) {
  REQUIRE_TESTDATA(td);
  const Tokenizer& tok = load(td);
  for (const char* dir : {"/", "/older-tests/"}) {
    const std::string base = tok_dir(td) + dir + "ggml-vocab-" + GetParam().name + ".gguf";
    for (const auto& c : read_vocab_cases(base + ".inp", base + ".out")) {
      std::string want;
      bool has_byte_token = false;  // one of the 13 single-byte added tokens
      for (int32_t id : c.ids) {
        want += tok.token_bytes(id);
        has_byte_token |= tok.token_bytes(id).size() == 1 && static_cast<unsigned char>(tok.token_bytes(id)[0]) >= 0x80;
      }
      EXPECT_EQ(tok.decode(tok.encode(c.text, false), false), want) << show(c.text);
      EXPECT_EQ(tok.decode(tok.encode(c.text, true), true), want) << show(c.text);
      if (!has_byte_token) {
        EXPECT_EQ(tok.decode(tok.encode(c.text, false), false), c.text) << show(c.text);
      }
    }
  }
  // Raw bytes that are not UTF-8 survive too (through the byte tokens' fallback ids).
  const std::string raw = "a\xFC\xC0z\xFF";
  EXPECT_EQ(tok.decode(tok.encode(raw, false), false), raw);
}

TEST_P(VocabTest, SpecialTokensAndMetadata) {
  REQUIRE_TESTDATA(td);
  const Tokenizer& tok = load(td);
  const bool llm = GetParam().name == "deepseek-llm";
  EXPECT_EQ(tok.bos_id(), llm ? 100000 : 32013);
  EXPECT_EQ(tok.eos_id(), llm ? 100001 : 32014);
  EXPECT_EQ(tok.bos_token(), "<\xEF\xBD\x9C" "begin\xE2\x96\x81of\xE2\x96\x81sentence\xEF\xBD\x9C>");
  EXPECT_EQ(tok.eos_token(), "<\xEF\xBD\x9C" "end\xE2\x96\x81of\xE2\x96\x81sentence\xEF\xBD\x9C>");
  EXPECT_EQ(tok.vocab_size(), GetParam().gguf ? (llm ? 102400 : 32256) : (llm ? 100015 : 32022));
  EXPECT_TRUE(tok.is_special(tok.bos_id()));
  EXPECT_TRUE(tok.is_special(tok.eos_id()));
  EXPECT_FALSE(tok.is_special(llm ? 100014 : 32009));  // user-defined "ü"
  EXPECT_FALSE(tok.is_special(0));
  EXPECT_EQ(tok.chat_template(), "");
  EXPECT_EQ(tok.token_bytes(llm ? 100014 : 32009), "\xFC");
  EXPECT_EQ(tok.token_bytes(tok.bos_id()), tok.bos_token());
  EXPECT_THROW(tok.token_bytes(tok.vocab_size()), Error);
  EXPECT_THROW(tok.decode({-1}, false), Error);
  // Special tokens written in the text are recognised; skip_special_tokens drops them.
  const std::string text = tok.bos_token() + "Hello" + tok.eos_token();
  const auto ids = tok.encode(text, false);
  ASSERT_GE(ids.size(), 3u);
  EXPECT_EQ(ids.front(), tok.bos_id());
  EXPECT_EQ(ids.back(), tok.eos_id());
  EXPECT_EQ(tok.decode(ids, false), text);
  EXPECT_EQ(tok.decode(ids, true), "Hello");
  EXPECT_EQ(tok.token_to_id(tok.eos_token()), tok.eos_id());
}

INSTANTIATE_TEST_SUITE_P(Vocabularies, VocabTest,
                         testing::Values(VocabParam{"deepseek-llm", true}, VocabParam{"deepseek-llm", false},
                                         VocabParam{"deepseek-coder", true}, VocabParam{"deepseek-coder", false}),
                         param_name);

// The GGUF and tokenizer.json paths agree on every token they share.
TEST(VocabPaths, GgufAndHuggingFaceAgree) {
  REQUIRE_TESTDATA(td);
  for (const std::string name : {"deepseek-llm", "deepseek-coder"}) {
    const Tokenizer& g = cached(tok_dir(td) + "/ggml-vocab-" + name + ".gguf");
    const Tokenizer& h = cached(tok_dir(td) + "/" + name);
    for (int32_t id = 0; id < h.vocab_size(); ++id) {
      ASSERT_EQ(g.token_bytes(id), h.token_bytes(id)) << name << " id " << id;
      ASSERT_EQ(g.is_special(id), h.is_special(id)) << name << " id " << id;
    }
  }
}

TEST(VocabPaths, CoderFimAndChatTokensAreAddedTokens) {
  REQUIRE_TESTDATA(td);
  for (const std::string path : {"/ggml-vocab-deepseek-coder.gguf", "/deepseek-coder"}) {
    const Tokenizer& tok = cached(tok_dir(td) + path);
    const auto ids = tok.encode("<|User|>x<\xEF\xBD\x9C" "fim\xE2\x96\x81hole\xEF\xBD\x9C><|EOT|>", false);
    ASSERT_EQ(ids.size(), 4u) << path;
    EXPECT_EQ(ids[0], 32019);
    EXPECT_EQ(ids[2], 32015);
    EXPECT_EQ(ids[3], 32021);
    EXPECT_FALSE(tok.is_special(32021));
    EXPECT_EQ(tok.token_to_id("<|EOT|>"), 32021);
  }
}

// ids-only/ and the R1-Distill-Qwen older cases need vocabularies that are not
// in the test data. Point DSINFER_TOKENIZER_QWEN2 / DSINFER_TOKENIZER_LLAMA3 at
// a model directory (tokenizer.json or GGUF) to run them.
struct IdsOnly {
  const char* env;
  const char* file;
};

class IdsOnlyTest : public testing::TestWithParam<IdsOnly> {};

TEST_P(IdsOnlyTest, MatchesHuggingFaceWhenVocabularyGiven) {
  REQUIRE_TESTDATA(td);
  const char* path = std::getenv(GetParam().env);
  if (!path || !*path) {
    GTEST_SKIP() << "*** " << GetParam().file << ": vocabulary not in the test data; set " << GetParam().env
                 << " to a tokenizer directory to run this case (SKIPPED, not passed) ***";
  }
  const Tokenizer tok = Tokenizer::from_path(path);
  const std::string base = tok_dir(td) + "/" + GetParam().file;
  expect_cases(tok, base + ".inp", base + ".out", GetParam().file);
}

INSTANTIATE_TEST_SUITE_P(
    Vocabularies, IdsOnlyTest,
    testing::Values(IdsOnly{"DSINFER_TOKENIZER_QWEN2", "ids-only/ggml-vocab-qwen2.gguf"},
                    IdsOnly{"DSINFER_TOKENIZER_QWEN2", "older-tests/ggml-vocab-deepseek-r1-qwen.gguf"},
                    IdsOnly{"DSINFER_TOKENIZER_LLAMA3", "ids-only/ggml-vocab-llama-bpe.gguf"}),
    [](const testing::TestParamInfo<IdsOnly>& p) { return std::to_string(p.index); });

}  // namespace
}  // namespace dsinfer::tokenizer
