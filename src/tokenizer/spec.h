// What a loader (tokenizer.json or GGUF) extracts from its file: the plain
// description a Tokenizer is built from. Internal header.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace dsinfer::tokenizer {

struct AddedTokenSpec {
  int32_t id = -1;
  std::string content;      // the text matched in the input
  bool special = false;     // skipped by decode(skip_special_tokens)
  bool lstrip = false;      // swallows whitespace on its left
  bool rstrip = false;      // swallows whitespace on its right
  bool single_word = false; // only matches when not inside a word
  bool normalized = false;  // matched after normalization (else in the raw text)
};

enum class SplitBehavior { Removed, Isolated, MergedWithPrevious, MergedWithNext, Contiguous };

struct PreTokStep {
  enum class Kind { RegexSplit, StringSplit, ByteLevel, Digits };
  Kind kind = Kind::RegexSplit;
  std::string pattern;  // RegexSplit: PCRE2 pattern; StringSplit: literal
  SplitBehavior behavior = SplitBehavior::Isolated;
  bool invert = false;
  bool add_prefix_space = false;   // ByteLevel
  bool use_regex = false;          // ByteLevel: split with the GPT-2 regex
  bool individual_digits = false;  // Digits
};

struct NormStep {
  enum class Kind { Replace, ReplaceRegex, Prepend, Append, Nfc };
  Kind kind = Kind::Replace;
  std::string pattern;  // Replace: literal, ReplaceRegex: regex
  std::string content;  // replacement / prepended / appended text
};

struct TokenizerSpec {
  std::string source;  // file the spec came from, for messages

  // Byte-level BPE model: token text as stored (byte-level image), id; merges in rank order.
  std::vector<std::pair<std::string, int32_t>> vocab;
  std::vector<std::pair<std::string, std::string>> merges;
  bool strict_merges = true;   // a merge whose parts or result are not in the vocab is an error
  bool ignore_merges = false;  // a piece that is a whole vocab entry is emitted as is
  int32_t unk_id = -1;

  std::vector<AddedTokenSpec> added;
  std::vector<NormStep> normalizers;
  std::vector<PreTokStep> pre;

  std::vector<int32_t> prefix_ids, suffix_ids;  // encode(..., add_special_tokens=true)
  int32_t bos_id = -1, eos_id = -1;
  std::string bos_token, eos_token, chat_template;
  int32_t n_vocab = 0;  // total id space; 0: derived from the largest id
};

TokenizerSpec load_hf_spec(const std::string& tokenizer_json, const std::string& config_json,
                           const std::string& chat_template_file);
TokenizerSpec load_gguf_spec(const std::string& path);

// Pre-tokenizer regexes llama.cpp selects by tokenizer.ggml.pre ("deepseek-v3",
// "qwen2", "llama-bpe", ...). Throws naming the value when it is unknown.
std::vector<std::string> gguf_pre_patterns(const std::string& pre_name);
// Every name gguf_pre_patterns knows.
std::vector<std::string> gguf_pre_names();
// The GPT-2 regex (ByteLevel use_regex, and GGUF "default"/"gpt-2").
const std::string& gpt2_pattern();

}  // namespace dsinfer::tokenizer
