// Tokenizers read from small hand-built GGUF files: the metadata keys used
// and the errors for missing or inconsistent ones.
#include <gtest/gtest.h>

#include <cstring>
#include <fstream>

#include "common/testdata.h"
#include "core/error.h"
#include "io/gguf.h"
#include "tokenizer/byte_level.h"
#include "tokenizer/tokenizer.h"

namespace dsinfer::tokenizer {
namespace {

using io::GgufType;

// Writes GGUF v3 metadata-only files.
class MiniGguf {
 public:
  void str(const std::string& k, const std::string& v) {
    kv(k, GgufType::STRING);
    put_str(v);
  }
  void u32(const std::string& k, uint32_t v) {
    kv(k, GgufType::UINT32);
    num(v);
  }
  void boolean(const std::string& k, bool v) {
    kv(k, GgufType::BOOL);
    num<uint8_t>(v);
  }
  void strs(const std::string& k, const std::vector<std::string>& v) {
    array_header(k, GgufType::STRING, v.size());
    for (const auto& s : v) put_str(s);
  }
  void ints(const std::string& k, const std::vector<int32_t>& v) {
    array_header(k, GgufType::INT32, v.size());
    for (int32_t x : v) num(x);
  }
  std::string write(const std::string& path) const {
    std::ofstream out(path, std::ios::binary);
    out.write("GGUF", 4);
    const uint32_t version = 3;
    const uint64_t n_tensors = 0;
    out.write(reinterpret_cast<const char*>(&version), 4);
    out.write(reinterpret_cast<const char*>(&n_tensors), 8);
    out.write(reinterpret_cast<const char*>(&n_), 8);
    out << body_;
    return path;
  }

 private:
  template <typename T>
  void num(T v) {
    char tmp[sizeof(T)];
    std::memcpy(tmp, &v, sizeof(T));
    body_.append(tmp, sizeof(T));
  }
  void put_str(const std::string& s) {
    num<uint64_t>(s.size());
    body_ += s;
  }
  void array_header(const std::string& k, GgufType elem, size_t n) {
    kv(k, GgufType::ARRAY);
    num(static_cast<uint32_t>(elem));
    num<uint64_t>(n);
  }
  void kv(const std::string& k, GgufType t) {
    put_str(k);
    num(static_cast<uint32_t>(t));
    ++n_;
  }
  std::string body_;
  uint64_t n_ = 0;
};

// Tokens: the bytes of "ab 12", then "ab", "Ġab", then BOS / EOS controls and a user-defined token.
MiniGguf tiny_vocab(const std::string& pre = "deepseek-v3") {
  MiniGguf g;
  g.str("general.architecture", "deepseek2");
  g.str("tokenizer.ggml.model", "gpt2");
  g.str("tokenizer.ggml.pre", pre);
  std::vector<std::string> toks;
  for (char c : std::string("ab 12")) toks.push_back(byte_level::encode(std::string(1, c)));
  toks.insert(toks.end(), {"ab", "\xC4\xA0" "ab", "<s>", "</s>", "<tool>"});
  g.strs("tokenizer.ggml.tokens", toks);
  g.ints("tokenizer.ggml.token_type", {1, 1, 1, 1, 1, 1, 1, 3, 3, 4});
  g.strs("tokenizer.ggml.merges", {"a b", "\xC4\xA0 ab", "x y"});  // the last names unknown tokens: ignored
  g.u32("tokenizer.ggml.bos_token_id", 7);
  g.u32("tokenizer.ggml.eos_token_id", 8);
  g.boolean("tokenizer.ggml.add_bos_token", true);
  g.str("tokenizer.chat_template", "{{ messages }}");
  return g;
}

std::string error_of(const std::string& path) {
  try {
    Tokenizer::from_path(path);
  } catch (const Error& e) {
    return e.what();
  }
  ADD_FAILURE() << "loading succeeded";
  return "";
}

#define EXPECT_HAS(haystack, needle) EXPECT_NE((haystack).find(needle), std::string::npos) << (haystack)

TEST(GgufTokenizer, ReadsVocabularyMergesAndSpecialTokens) {
  const std::string dir = test::make_temp_dir();
  const Tokenizer tok = Tokenizer::from_path(tiny_vocab().write(dir + "/model.gguf"));
  EXPECT_EQ(tok.vocab_size(), 10);
  EXPECT_EQ(tok.encode("ab ab<tool>12", true), (std::vector<int32_t>{7, 5, 6, 9, 3, 4}));
  EXPECT_EQ(tok.bos_token(), "<s>");
  EXPECT_EQ(tok.eos_token(), "</s>");
  EXPECT_TRUE(tok.is_special(8));
  EXPECT_FALSE(tok.is_special(9));
  EXPECT_EQ(tok.chat_template(), "{{ messages }}");
  EXPECT_EQ(tok.decode({7, 5, 6, 8}, true), "ab ab");
  // A directory holding the one .gguf file loads it.
  EXPECT_EQ(Tokenizer::from_path(dir).vocab_size(), 10);
}

TEST(GgufTokenizer, MissingOrInconsistentKeysAreErrors) {
  const std::string dir = test::make_temp_dir();
  MiniGguf none;
  none.str("general.architecture", "llama");
  EXPECT_HAS(error_of(none.write(dir + "/a.gguf")), "key 'tokenizer.ggml.model': missing");
  MiniGguf spm;
  spm.str("tokenizer.ggml.model", "llama");
  EXPECT_HAS(error_of(spm.write(dir + "/b.gguf")), "unsupported tokenizer model 'llama'");
  EXPECT_HAS(error_of(tiny_vocab("mystery").write(dir + "/c.gguf")),
             "key 'tokenizer.ggml.pre': unsupported pre-tokenizer 'mystery'");
  MiniGguf bad_types = tiny_vocab();
  bad_types.ints("tokenizer.ggml.token_type", {1});
  EXPECT_HAS(error_of(bad_types.write(dir + "/d.gguf")), "duplicate metadata key");
  MiniGguf no_merges;
  no_merges.str("tokenizer.ggml.model", "gpt2");
  no_merges.strs("tokenizer.ggml.tokens", {"a"});
  EXPECT_HAS(error_of(no_merges.write(dir + "/e.gguf")), "key 'tokenizer.ggml.merges': missing");
  MiniGguf short_types;
  short_types.str("tokenizer.ggml.model", "gpt2");
  short_types.strs("tokenizer.ggml.tokens", {"a", "b"});
  short_types.ints("tokenizer.ggml.token_type", {1});
  EXPECT_HAS(error_of(short_types.write(dir + "/f.gguf")), "has 1 entries but there are 2 tokens");
  MiniGguf bad_bos;
  bad_bos.str("tokenizer.ggml.model", "gpt2");
  bad_bos.strs("tokenizer.ggml.tokens", {"a"});
  bad_bos.strs("tokenizer.ggml.merges", {});
  bad_bos.u32("tokenizer.ggml.bos_token_id", 5);
  EXPECT_HAS(error_of(bad_bos.write(dir + "/g.gguf")), "token id 5 is outside the vocabulary of 1");
  MiniGguf wrong_type;
  wrong_type.str("tokenizer.ggml.model", "gpt2");
  wrong_type.str("tokenizer.ggml.tokens", "abc");
  EXPECT_HAS(error_of(wrong_type.write(dir + "/h.gguf")), "key 'tokenizer.ggml.tokens': has type string");
  // Two .gguf files in a directory (neither a first shard): the choice is the user's.
  EXPECT_HAS(error_of(dir), "has several .gguf files");
}

}  // namespace
}  // namespace dsinfer::tokenizer
