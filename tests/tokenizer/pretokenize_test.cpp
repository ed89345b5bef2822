// Pre-tokenizer regex splits against the Python `regex` module's results.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "common/testdata.h"
#include "tokenizer/pretokenizer.h"
#include "core/error.h"
#include "tokenizer/spec.h"
#include "tokenizer/tok_test_util.h"
#include "tokenizer/tokenizer.h"

namespace dsinfer::tokenizer {
namespace {

using test::show;

struct PreParam {
  std::string file;      // pretokenize-<file>.json
  std::string gguf_pre;  // tokenizer.ggml.pre name selecting the same regexes
};

nlohmann::json load_cases(const std::string& td, const std::string& name) {
  return nlohmann::json::parse(test::read_all(td + "/tokenizers/pretokenize-" + name + ".json"));
}

std::string join(const std::vector<std::string>& v) {
  std::string out = "[";
  for (const auto& s : v) out.append(1, '"').append(show(s)).append("\" ");
  out.append("]");
  return out;
}

void expect_splits(const nlohmann::json& j, const std::vector<std::string>& patterns, const std::string& label) {
  ASSERT_EQ(j["cases"].size(), 103u);
  int failures = 0;
  for (const auto& c : j["cases"]) {
    const std::string text = c["text"];
    const auto want = c["pieces"].get<std::vector<std::string>>();
    const auto got = split_with_patterns(patterns, text);
    EXPECT_EQ(got, want) << label << " on \"" << show(text) << "\"\n got  " << join(got) << "\n want " << join(want);
    failures += got != want;
  }
  EXPECT_EQ(failures, 0) << label;
}

class PretokenizeTest : public testing::TestWithParam<PreParam> {};

// The patterns given in the file, run by our regex engine and Split semantics.
TEST_P(PretokenizeTest, FilePatternsSplitExactly) {
  REQUIRE_TESTDATA(td);
  const auto j = load_cases(td, GetParam().file);
  expect_splits(j, j["patterns"].get<std::vector<std::string>>(), GetParam().file);
}

// The patterns the GGUF loader selects by tokenizer.ggml.pre name.
TEST_P(PretokenizeTest, GgufPreNamePatternsSplitExactly) {
  REQUIRE_TESTDATA(td);
  const auto j = load_cases(td, GetParam().file);
  expect_splits(j, gguf_pre_patterns(GetParam().gguf_pre), "pre=" + GetParam().gguf_pre);
}

INSTANTIATE_TEST_SUITE_P(Regexes, PretokenizeTest,
                         testing::Values(PreParam{"deepseek-v3", "deepseek-v3"}, PreParam{"qwen2", "qwen2"},
                                         PreParam{"qwen2", "deepseek-r1-qwen"}, PreParam{"llama3", "llama-bpe"},
                                         PreParam{"deepseek-llm", "deepseek-llm"},
                                         PreParam{"deepseek-coder", "deepseek-coder"}),
                         [](const testing::TestParamInfo<PreParam>& p) {
                           std::string n = p.param.gguf_pre;
                           for (char& c : n) c = (c == '-') ? '_' : c;
                           return n;
                         });

// The loaded tokenizers (both paths) cut text the same way, end to end.
TEST(PretokenizeTokenizer, LoadedTokenizersSplitLikeThePatterns) {
  REQUIRE_TESTDATA(td);
  for (const std::string name : {"deepseek-llm", "deepseek-coder"}) {
    const auto j = load_cases(td, name);
    const Tokenizer g = Tokenizer::from_path(td + "/tokenizers/ggml-vocab-" + name + ".gguf");
    const Tokenizer h = Tokenizer::from_path(td + "/tokenizers/" + name + "/tokenizer.json");
    for (const auto& c : j["cases"]) {
      const std::string text = c["text"];
      if (text.find("<\xEF\xBD\x9C") != std::string::npos || text.find('\xC3') != std::string::npos) continue;
      const auto want = c["pieces"].get<std::vector<std::string>>();
      EXPECT_EQ(g.pre_tokenize(text), want) << name << " gguf: " << show(text);
      EXPECT_EQ(h.pre_tokenize(text), want) << name << " hf: " << show(text);
    }
  }
}

TEST(PretokenizeUnit, SplitBehaviors) {
  auto run = [](SplitBehavior b, bool invert, const std::string& text) {
    PreTokStep st;
    st.pattern = "-";
    st.behavior = b;
    st.invert = invert;
    PreTokenizer pre({st});
    PreScratch s;
    std::vector<std::string_view> out;
    pre.split(text, s, out);
    return std::vector<std::string>(out.begin(), out.end());
  };
  using V = std::vector<std::string>;
  const std::string t = "the-final--countdown";
  EXPECT_EQ(run(SplitBehavior::Removed, false, t), (V{"the", "final", "countdown"}));
  EXPECT_EQ(run(SplitBehavior::Isolated, false, t), (V{"the", "-", "final", "-", "-", "countdown"}));
  EXPECT_EQ(run(SplitBehavior::MergedWithPrevious, false, t), (V{"the-", "final-", "-", "countdown"}));
  EXPECT_EQ(run(SplitBehavior::MergedWithNext, false, t), (V{"the", "-final", "-", "-countdown"}));
  EXPECT_EQ(run(SplitBehavior::Contiguous, false, t), (V{"the", "-", "final", "--", "countdown"}));
  EXPECT_EQ(run(SplitBehavior::Removed, true, t), (V{"-", "-", "-"}));
  EXPECT_EQ(run(SplitBehavior::Isolated, false, ""), V{});
}

TEST(PretokenizeUnit, DigitsAndByteLevel) {
  auto run = [](PreTokStep st, const std::string& text) {
    PreTokenizer pre({st});
    PreScratch s;
    std::vector<std::string_view> out;
    pre.split(text, s, out);
    return std::vector<std::string>(out.begin(), out.end());
  };
  using V = std::vector<std::string>;
  PreTokStep d;
  d.kind = PreTokStep::Kind::Digits;
  d.individual_digits = true;
  EXPECT_EQ(run(d, "ab123c4"), (V{"ab", "1", "2", "3", "c", "4"}));
  d.individual_digits = false;
  EXPECT_EQ(run(d, "ab123c4"), (V{"ab", "123", "c", "4"}));
  PreTokStep bl;
  bl.kind = PreTokStep::Kind::ByteLevel;
  bl.add_prefix_space = true;
  bl.use_regex = true;
  EXPECT_EQ(run(bl, "Hello world's  end"), (V{" Hello", " world", "'s", " ", " end"}));
  bl.add_prefix_space = false;
  bl.use_regex = false;
  EXPECT_EQ(run(bl, "Hello world"), (V{"Hello world"}));
}

TEST(PretokenizeUnit, InvalidUtf8NeverMatchesButIsKept) {
  const auto got = split_with_patterns({R"(\p{L}+)"}, "ab\xFF\xC3" "cd");
  EXPECT_EQ(got, (std::vector<std::string>{"ab", "\xFF\xC3", "cd"}));
}

TEST(PretokenizeUnit, UnknownGgufPreNameIsAnError) {
  try {
    gguf_pre_patterns("no-such-pre");
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("unsupported pre-tokenizer 'no-such-pre'"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace dsinfer::tokenizer
