// Byte-level BPE tokenizer of the DeepSeek model family (and the Qwen2 /
// Llama-3 tokenizers of the R1-Distill models), loaded from a Hugging Face
// tokenizer.json (+ tokenizer_config.json) or from a GGUF file's
// tokenizer.ggml.* metadata. Encoding follows the Hugging Face `tokenizers`
// rules: added tokens are cut out of the raw text first (leftmost, then
// longest), the rest is normalized, pre-tokenized with the model's regexes
// and merged by BPE rank.
//
// A Tokenizer is immutable after loading, cheap to copy (shared state) and
// safe to use from several threads at once.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tokenizer/detokenizer.h"

namespace dsinfer::tokenizer {

struct TokenizerSpec;

class Tokenizer {
 public:
  // PATH: a model directory (tokenizer.json [+ tokenizer_config.json,
  // chat_template.jinja], or else a single .gguf), a tokenizer.json file
  // (tokenizer_config.json beside it is read when present), or a .gguf file.
  // Throws dsinfer::Error naming the file and the fault.
  static Tokenizer from_path(const std::string& path);
  // Builds from an already loaded description (used by the loaders and tests).
  static Tokenizer from_spec(const TokenizerSpec& spec);

  // add_special_tokens: add BOS/EOS as the tokenizer's post-processor (or
  // tokenizer_config.json's add_bos_token/add_eos_token) says. Added and
  // special tokens written in the text are always recognised.
  std::vector<int32_t> encode(std::string_view text, bool add_special_tokens) const;
  // Concatenated token bytes; throws on an id outside [0, vocab_size()).
  std::string decode(const std::vector<int32_t>& ids, bool skip_special_tokens) const;
  // The raw bytes of one token (special tokens: their text); throws when out of range.
  std::string token_bytes(int32_t id) const;
  bool is_special(int32_t id) const;
  int32_t vocab_size() const;
  int32_t bos_id() const;  // -1 when none
  int32_t eos_id() const;  // -1 when none
  const std::string& bos_token() const;
  const std::string& eos_token() const;
  const std::string& chat_template() const;  // "" when none
  bool add_bos() const;                      // encode(..., true) starts with BOS
  bool add_eos() const;                      // encode(..., true) ends with EOS

  // Id of a token by its text as the vocabulary stores it (added/special
  // tokens by their content, e.g. "<|EOT|>"; BPE tokens in byte-level form).
  std::optional<int32_t> token_to_id(std::string_view text) const;
  // The pieces the BPE stage would see (added tokens as pieces of their own);
  // for diagnostics and tests.
  std::vector<std::string> pre_tokenize(std::string_view text) const;
  // File the tokenizer was loaded from.
  const std::string& source() const;

  // Implementation details (opaque; defined in tokenizer.cpp).
  struct Impl;
  struct Scratch;

 private:
  explicit Tokenizer(std::shared_ptr<const Impl> impl) : impl_(std::move(impl)) {}
  void encode_text(std::string_view text, Scratch& s, std::vector<int32_t>& out) const;
  void encode_plain(std::string_view text, Scratch& s, std::vector<int32_t>& out) const;
  std::shared_ptr<const Impl> impl_;
};

}  // namespace dsinfer::tokenizer
