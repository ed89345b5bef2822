// GGUF tokenizer.ggml.* metadata -> TokenizerSpec (byte-level BPE, "gpt2" model).
#include "core/error.h"
#include "io/gguf.h"
#include "tokenizer/spec.h"

namespace dsinfer::tokenizer {

namespace {

// tokenizer.ggml.token_type values.
enum TokenType : int64_t { kNormal = 1, kUnknown = 2, kControl = 3, kUserDefined = 4, kUnused = 5, kByte = 6 };

[[noreturn]] void fail_key(const io::GgufFile& f, const char* key, const std::string& what) {
  fail("GGUF ", f.path(), ": key '", key, "': ", what);
}

void read_tokens(const io::GgufFile& f, TokenizerSpec& spec, std::vector<std::string_view>& tokens) {
  auto toks = f.get_string_array("tokenizer.ggml.tokens");
  if (!toks || toks->empty()) fail_key(f, "tokenizer.ggml.tokens", "missing or empty");
  tokens = std::move(*toks);
  auto types = f.get_int_array("tokenizer.ggml.token_type");
  if (types && types->size() != tokens.size()) {
    fail_key(f, "tokenizer.ggml.token_type",
             cat("has ", types->size(), " entries but there are ", tokens.size(), " tokens"));
  }
  spec.n_vocab = static_cast<int32_t>(tokens.size());
  for (size_t i = 0; i < tokens.size(); ++i) {
    const int64_t type = types ? (*types)[i] : kNormal;
    const auto id = static_cast<int32_t>(i);
    std::string text(tokens[i]);
    if (type == kNormal || type == kByte) {
      spec.vocab.emplace_back(std::move(text), id);
    } else if (type == kControl || type == kUserDefined) {
      AddedTokenSpec a;
      a.id = id;
      a.content = std::move(text);
      a.special = type == kControl;
      if (!a.content.empty()) spec.added.push_back(std::move(a));
    } else if (type != kUnknown && type != kUnused) {
      fail_key(f, "tokenizer.ggml.token_type", cat("token ", i, " has unknown type ", type));
    }
  }
}

void read_merges(const io::GgufFile& f, TokenizerSpec& spec) {
  auto merges = f.get_string_array("tokenizer.ggml.merges");
  if (!merges) fail_key(f, "tokenizer.ggml.merges", "missing (required for a gpt2 tokenizer)");
  spec.merges.reserve(merges->size());
  for (size_t k = 0; k < merges->size(); ++k) {
    const std::string_view m = (*merges)[k];
    const size_t sp = m.find(' ', 1);
    if (sp == std::string_view::npos || sp + 1 >= m.size()) {
      fail_key(f, "tokenizer.ggml.merges", cat("merge ", k, " '", m, "' is not two tokens separated by a space"));
    }
    spec.merges.emplace_back(std::string(m.substr(0, sp)), std::string(m.substr(sp + 1)));
  }
  spec.strict_merges = false;  // as llama.cpp: a merge that names unknown tokens never applies
}

void read_pre(const io::GgufFile& f, TokenizerSpec& spec) {
  const std::string pre(f.get_string("tokenizer.ggml.pre").value_or("default"));
  std::vector<std::string> patterns;
  try {
    patterns = gguf_pre_patterns(pre);
  } catch (const Error& e) {
    fail_key(f, "tokenizer.ggml.pre", e.what());
  }
  for (auto& p : patterns) {
    PreTokStep st;
    st.pattern = std::move(p);
    spec.pre.push_back(std::move(st));
  }
  PreTokStep bl;
  bl.kind = PreTokStep::Kind::ByteLevel;
  spec.pre.push_back(bl);
  spec.ignore_merges = pre == "llama-bpe" || pre == "llama3";  // Llama-3's tokenizer.json sets ignore_merges
}

int32_t read_token_id(const io::GgufFile& f, const char* key, const std::vector<std::string_view>& tokens) {
  const auto id = f.get_int(key);
  if (!id) return -1;
  if (*id < 0 || *id >= static_cast<int64_t>(tokens.size())) {
    fail_key(f, key, cat("token id ", *id, " is outside the vocabulary of ", tokens.size()));
  }
  return static_cast<int32_t>(*id);
}

}  // namespace

TokenizerSpec load_gguf_spec(const std::string& path) {
  const io::GgufFile f(path);
  TokenizerSpec spec;
  spec.source = path;
  const auto model = f.get_string("tokenizer.ggml.model");
  if (!model) fail_key(f, "tokenizer.ggml.model", "missing: the file holds no tokenizer");
  if (*model != "gpt2") {
    fail_key(f, "tokenizer.ggml.model", cat("unsupported tokenizer model '", *model, "' (only gpt2 byte-level BPE)"));
  }
  std::vector<std::string_view> tokens;
  read_tokens(f, spec, tokens);
  read_merges(f, spec);
  read_pre(f, spec);
  spec.bos_id = read_token_id(f, "tokenizer.ggml.bos_token_id", tokens);
  spec.eos_id = read_token_id(f, "tokenizer.ggml.eos_token_id", tokens);
  if (spec.bos_id >= 0) spec.bos_token = std::string(tokens[spec.bos_id]);
  if (spec.eos_id >= 0) spec.eos_token = std::string(tokens[spec.eos_id]);
  if (f.get_bool("tokenizer.ggml.add_bos_token").value_or(false) && spec.bos_id >= 0) spec.prefix_ids = {spec.bos_id};
  if (f.get_bool("tokenizer.ggml.add_eos_token").value_or(false) && spec.eos_id >= 0) spec.suffix_ids = {spec.eos_id};
  spec.chat_template = std::string(f.get_string("tokenizer.chat_template").value_or(""));
  return spec;
}

}  // namespace dsinfer::tokenizer
