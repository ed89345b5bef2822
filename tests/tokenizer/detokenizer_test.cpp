// Incremental decoding (UTF-8 safe deltas) and stop strings.
#include <gtest/gtest.h>

#include "common/testdata.h"
#include "core/error.h"
#include "tokenizer/byte_level.h"
#include "tokenizer/spec.h"
#include "tokenizer/tok_test_util.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/utf8.h"

namespace dsinfer::tokenizer {
namespace {

using test::show;

bool valid_utf8(const std::string& s) {
  for (size_t i = 0; i < s.size();) {
    const size_t n = utf8::valid_length(s, i);
    if (n == 0) return false;
    i += n;
  }
  return true;
}

// A vocabulary of the 256 single bytes (ids 0..255) and no merges, plus a
// special token: every multi-byte character is split across tokens.
Tokenizer byte_tokenizer() {
  TokenizerSpec spec;
  spec.source = "bytes";
  for (int b = 0; b < 256; ++b) spec.vocab.emplace_back(byte_level::encode(std::string(1, static_cast<char>(b))), b);
  AddedTokenSpec eos;
  eos.id = 256;
  eos.content = "</s>";
  eos.special = true;
  spec.added.push_back(eos);
  spec.eos_id = 256;
  spec.eos_token = "</s>";
  PreTokStep bl;
  bl.kind = PreTokStep::Kind::ByteLevel;
  spec.pre.push_back(bl);
  return Tokenizer::from_spec(spec);
}

TEST(IncrementalDecoder, HoldsBackSplitCharacters) {
  const Tokenizer tok = byte_tokenizer();
  const std::string text = "a\xC3\xA9" "b\xE2\x82\xAC\xF0\x9F\x98\x80z";  // aébeuro-sign grinning-face z
  const auto ids = tok.encode(text, false);
  ASSERT_EQ(ids.size(), text.size());
  IncrementalDecoder dec(tok);
  std::vector<std::string> deltas;
  for (int32_t id : ids) deltas.push_back(dec.push(id));
  EXPECT_EQ(dec.flush(), "");
  const std::vector<std::string> want = {"a", "", "\xC3\xA9", "b", "", "", "\xE2\x82\xAC", "", "", "", "\xF0\x9F\x98\x80", "z"};
  EXPECT_EQ(deltas, want);
}

TEST(IncrementalDecoder, FlushReturnsIncompleteTailAndSkipsSpecial) {
  const Tokenizer tok = byte_tokenizer();
  IncrementalDecoder dec(tok, {.skip_special_tokens = true});
  EXPECT_EQ(dec.push(std::vector<int32_t>{'x', 0xE2, 0x82}), "x");
  EXPECT_EQ(dec.pending_bytes(), 2u);
  EXPECT_EQ(dec.push(256), "");  // </s> skipped
  EXPECT_EQ(dec.flush(), "\xE2\x82");
  IncrementalDecoder keep(tok);
  EXPECT_EQ(keep.push(256), "</s>");
  EXPECT_THROW(keep.push(257), Error);
}

TEST(IncrementalDecoder, InvalidBytesPassOrAreReplaced) {
  const Tokenizer tok = byte_tokenizer();
  IncrementalDecoder raw(tok);
  EXPECT_EQ(raw.push(std::vector<int32_t>{'a', 0xFC, 'b'}), "a\xFC" "b");
  EXPECT_EQ(raw.push(std::vector<int32_t>{0xE2, 0x82, 'c'}), "\xE2\x82" "c");  // broken sequence: not held forever
  IncrementalDecoder rep(tok, {.replace_invalid = true});
  EXPECT_EQ(rep.push(std::vector<int32_t>{'a', 0xFC, 'b'}), "a\xEF\xBF\xBD" "b");
  EXPECT_EQ(rep.push(0xC3), "");
  EXPECT_EQ(rep.flush(), "\xEF\xBF\xBD");
}

// Real vocabulary: every test text decoded token by token.
TEST(IncrementalDecoder, DeltasConcatenateToDecodeOnRealVocabulary) {
  REQUIRE_TESTDATA(td);
  const std::string base = td + "/tokenizers/ggml-vocab-deepseek-llm.gguf";
  const Tokenizer tok = Tokenizer::from_path(base);
  auto cases = test::read_vocab_cases(base + ".inp", base + ".out");
  cases.push_back({"\xE4\xBD\xA0\xE5\xA5\xBD\xF0\x9F\xA6\x99\xF0\x9F\x91\xA9\xE2\x80\x8D\xF0\x9F\x92\xBB \xEA\xB0\x80", {}});
  int split_chars = 0;
  for (const auto& c : cases) {
    const auto ids = tok.encode(c.text, false);
    IncrementalDecoder dec(tok);
    std::string all;
    for (int32_t id : ids) {
      const std::string d = dec.push(id);
      split_chars += utf8::incomplete_tail(tok.token_bytes(id)) != 0;
      if (valid_utf8(tok.decode(ids, false))) {
        EXPECT_TRUE(valid_utf8(d)) << show(d) << " in " << show(c.text);
      }
      all += d;
    }
    all += dec.flush();
    EXPECT_EQ(all, tok.decode(ids, false)) << show(c.text);
  }
  EXPECT_GT(split_chars, 10) << "the texts should split some characters across tokens";
}

TEST(StopMatcher, StopSpanningDeltas) {
  StopMatcher m({"</s>", "STOP"});
  auto r = m.feed("Hello </");
  EXPECT_EQ(r.text, "Hello ");
  EXPECT_FALSE(r.stopped);
  r = m.feed("s> more");
  EXPECT_EQ(r.text, "");
  EXPECT_TRUE(r.stopped);
  EXPECT_EQ(m.matched(), "</s>");
  r = m.feed("anything");
  EXPECT_TRUE(r.stopped);
  EXPECT_EQ(r.text, "");
  EXPECT_EQ(m.flush(), "");
}

TEST(StopMatcher, FalseStartIsReleased) {
  StopMatcher m({"abc"});
  EXPECT_EQ(m.feed("xab").text, "x");
  EXPECT_EQ(m.feed("d").text, "abd");
  EXPECT_EQ(m.feed("a").text, "");
  EXPECT_EQ(m.flush(), "a");
  EXPECT_FALSE(m.stopped());
}

// Streaming: the first stop string to be completed wins; within one delta the earliest one.
TEST(StopMatcher, FirstCompletedStopWins) {
  StopMatcher m({"cd", "bcde"});
  std::string shown;
  bool stopped = false;
  for (char ch : std::string("xabcdefg")) {
    auto r = m.feed(std::string(1, ch));
    shown += r.text;
    if ((stopped = r.stopped)) break;
  }
  EXPECT_TRUE(stopped);
  EXPECT_EQ(shown, "xab");
  EXPECT_EQ(m.matched(), "cd");
  StopMatcher whole({"cd", "bcde"});
  const auto r = whole.feed("xabcdefg");
  EXPECT_TRUE(r.stopped);
  EXPECT_EQ(r.text, "xa");
  EXPECT_EQ(whole.matched(), "bcde");
}

TEST(StopMatcher, WorksOnDecoderOutputAcrossTokens) {
  const Tokenizer tok = byte_tokenizer();
  const std::string text = "Answer: 42\xE3\x80\x82<|end|>ignored";
  IncrementalDecoder dec(tok);
  StopMatcher stop({"\xE3\x80\x82<|end|>"});
  std::string shown;
  for (int32_t id : tok.encode(text, false)) {
    auto r = stop.feed(dec.push(id));
    shown += r.text;
    EXPECT_TRUE(valid_utf8(shown));
    if (r.stopped) break;
  }
  EXPECT_TRUE(stop.stopped());
  EXPECT_EQ(shown, "Answer: 42");
}

TEST(StopMatcher, NoStopsPassesThrough) {
  StopMatcher m({"", ""});
  EXPECT_EQ(m.feed("abc").text, "abc");
  EXPECT_EQ(m.max_stop_length(), 0u);
}

}  // namespace
}  // namespace dsinfer::tokenizer
