#include "tokenizer/gguf_export.h"

#include <algorithm>
#include <filesystem>

#include "core/error.h"
#include "tokenizer/spec.h"
#include "tokenizer/utf8.h"

namespace dsinfer::tokenizer {

namespace {

namespace fs = std::filesystem;

enum TokenType : int32_t { kNormal = 1, kControl = 3, kUserDefined = 4, kUnused = 5 };

std::string existing(const fs::path& p) {
  std::error_code ec;
  return fs::is_regular_file(p, ec) ? p.string() : std::string();
}

TokenizerSpec hf_spec(const std::string& path) {
  std::error_code ec;
  const fs::path json = fs::is_directory(path, ec) ? fs::path(path) / "tokenizer.json" : fs::path(path);
  if (existing(json).empty()) fail("tokenizer ", json.string(), " does not exist (GGUF output needs tokenizer.json)");
  const fs::path dir = json.parent_path();
  return load_hf_spec(json.string(), existing(dir / "tokenizer_config.json"), existing(dir / "chat_template.jinja"));
}

// PCRE2's \x{HHHH}, \r, \n and \t escapes as the characters, so a pattern
// compares equal however tokenizer.json or the name table spell it.
std::string literal(const std::string& p) {
  std::string out;
  for (size_t i = 0; i < p.size(); ++i) {
    if (p[i] != '\\' || i + 1 == p.size()) {
      out += p[i];
      continue;
    }
    const char e = p[++i];
    const size_t close = e == 'x' && i + 1 < p.size() && p[i + 1] == '{' ? p.find('}', i) : std::string::npos;
    if (close != std::string::npos) {
      utf8::append(out, static_cast<uint32_t>(std::stoul(p.substr(i + 2, close - i - 2), nullptr, 16)));
      i = close;
    } else if (e == 'r' || e == 'n' || e == 't') {
      out += e == 'r' ? '\r' : e == 'n' ? '\n' : '\t';
    } else {
      out += '\\';
      out += e;
    }
  }
  return out;
}

// llama.cpp's name for the spec's splitting regexes (first in name order on ties).
std::string pre_name(const TokenizerSpec& s) {
  std::vector<std::string> have;
  for (const PreTokStep& st : s.pre) {
    if (st.kind == PreTokStep::Kind::RegexSplit && st.behavior == SplitBehavior::Isolated && !st.invert)
      have.push_back(literal(st.pattern));
    else if (st.kind == PreTokStep::Kind::ByteLevel && st.use_regex)
      have.push_back(literal(gpt2_pattern()));
    else if (st.kind != PreTokStep::Kind::ByteLevel)
      fail(s.source, ": a pre-tokenizer step other than isolated regex splits and ByteLevel has no GGUF form");
  }
  for (const std::string& name : gguf_pre_names()) {
    std::vector<std::string> want = gguf_pre_patterns(name);
    for (std::string& p : want) p = literal(p);
    if (want == have && s.ignore_merges == (name == "llama-bpe" || name == "llama3")) return name;
  }
  fail(s.source, ": its pre-tokenizer regexes match none llama.cpp names, so a GGUF file could not say how to split text");
}

// convert_hf_to_gguf.py's does_token_look_special: added tokens some models forget to mark special.
bool looks_special(const std::string& t) {
  const auto wrapped = [&](const std::string& a, const std::string& b) {
    return t.size() >= a.size() + b.size() && t.starts_with(a) && t.ends_with(b);
  };
  return t == "<pad>" || t == "<mask>" || wrapped("<|", "|>") || wrapped("<\xEF\xBD\x9C", "\xEF\xBD\x9C>") || wrapped("<unused", ">");
}

}  // namespace

void add_gguf_tokenizer(const std::string& path, int64_t vocab_size, io::GgufWriter& w) {
  const TokenizerSpec s = hf_spec(path);
  if (!s.normalizers.empty()) fail(s.source, ": its normalizer has no GGUF form (byte-level BPE without one only)");
  int64_t n = std::max<int64_t>(vocab_size, s.n_vocab);
  for (const auto& [text, id] : s.vocab) n = std::max<int64_t>(n, id + 1);
  for (const AddedTokenSpec& a : s.added) n = std::max<int64_t>(n, a.id + 1);
  std::vector<std::string> tokens(static_cast<size_t>(n));
  std::vector<int32_t> types(static_cast<size_t>(n), kUnused);
  for (int64_t i = 0; i < n; ++i) tokens[static_cast<size_t>(i)] = "[PAD" + std::to_string(i) + "]";
  for (const auto& [text, id] : s.vocab) {
    tokens[static_cast<size_t>(id)] = text;
    types[static_cast<size_t>(id)] = kNormal;
  }
  for (const AddedTokenSpec& a : s.added) {
    const bool control = a.special || looks_special(a.content);
    tokens[static_cast<size_t>(a.id)] = a.content;
    types[static_cast<size_t>(a.id)] = control ? kControl : kUserDefined;
  }
  std::vector<std::string> merges;
  merges.reserve(s.merges.size());
  for (const auto& [a, b] : s.merges) merges.push_back(a + " " + b);
  w.add_string("tokenizer.ggml.model", "gpt2");
  w.add_string("tokenizer.ggml.pre", pre_name(s));
  w.add_string_array("tokenizer.ggml.tokens", tokens);
  w.add_i32_array("tokenizer.ggml.token_type", types);
  w.add_string_array("tokenizer.ggml.merges", merges);
  if (s.bos_id >= 0) w.add_u32("tokenizer.ggml.bos_token_id", static_cast<uint32_t>(s.bos_id));
  if (s.eos_id >= 0) w.add_u32("tokenizer.ggml.eos_token_id", static_cast<uint32_t>(s.eos_id));
  w.add_bool("tokenizer.ggml.add_bos_token", s.bos_id >= 0 && s.prefix_ids == std::vector<int32_t>{s.bos_id});
  w.add_bool("tokenizer.ggml.add_eos_token", s.eos_id >= 0 && s.suffix_ids == std::vector<int32_t>{s.eos_id});
  if (!s.chat_template.empty()) w.add_string("tokenizer.chat_template", s.chat_template);
}

}  // namespace dsinfer::tokenizer
