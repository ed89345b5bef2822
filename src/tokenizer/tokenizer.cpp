#include "tokenizer/tokenizer.h"

#include <algorithm>
#include <unordered_map>

#include "core/error.h"
#include "tokenizer/added_tokens.h"
#include "tokenizer/bpe.h"
#include "tokenizer/byte_level.h"
#include "tokenizer/normalizer.h"
#include "tokenizer/pretokenizer.h"
#include "tokenizer/spec.h"

namespace dsinfer::tokenizer {

struct Tokenizer::Impl {
  std::string source;
  std::vector<std::string> bytes;  // by id: what the token decodes to
  std::vector<uint8_t> special;    // by id
  std::unordered_map<std::string, int32_t> text_to_id;
  BpeModel bpe;
  AddedTokenMatcher raw_added;   // matched in the raw text
  AddedTokenMatcher norm_added;  // matched after normalization
  Normalizer normalizer;
  PreTokenizer pre;
  std::vector<int32_t> prefix, suffix;
  int32_t bos = -1, eos = -1;
  std::string bos_token, eos_token, chat_template;
};

struct Tokenizer::Scratch {
  PreScratch pre;
  BpeScratch bpe;
  std::vector<AddedTokenMatcher::Segment> segs, inner_segs;
  std::vector<std::string_view> pieces;
};

namespace {

int32_t id_space(const TokenizerSpec& spec) {
  int64_t max_id = -1;
  for (const auto& [_, id] : spec.vocab) max_id = std::max<int64_t>(max_id, id);
  for (const auto& t : spec.added) max_id = std::max<int64_t>(max_id, t.id);
  const int64_t n = std::max<int64_t>(spec.n_vocab, max_id + 1);
  if (n > (int64_t{1} << 30)) fail(spec.source, ": vocabulary of ", n, " ids is too large");
  return static_cast<int32_t>(n);
}

void check_id(const TokenizerSpec& spec, int32_t id, int32_t n, std::string_view what, std::string_view text) {
  if (id < 0 || id >= n) fail(spec.source, ": ", what, " '", text, "' has invalid id ", id);
}

// Vocabulary entries converted to raw bytes, with ids checked.
std::vector<std::pair<std::string, int32_t>> vocab_bytes(const TokenizerSpec& spec, int32_t n, Tokenizer::Impl& m) {
  std::vector<std::pair<std::string, int32_t>> out;
  out.reserve(spec.vocab.size());
  std::vector<uint8_t> seen(static_cast<size_t>(n), 0);
  for (const auto& [text, id] : spec.vocab) {
    check_id(spec, id, n, "vocabulary token", text);
    if (seen[id]) fail(spec.source, ": id ", id, " is used by two vocabulary tokens (one is '", text, "')");
    seen[id] = 1;
    m.text_to_id.emplace(text, id);
    auto b = byte_level::decode(text);
    m.bytes[id] = b ? *b : text;
    if (b) out.emplace_back(std::move(*b), id);
  }
  return out;
}

std::vector<std::pair<std::string, std::string>> merge_bytes(const TokenizerSpec& spec) {
  std::vector<std::pair<std::string, std::string>> out;
  out.reserve(spec.merges.size());
  for (size_t k = 0; k < spec.merges.size(); ++k) {
    auto a = byte_level::decode(spec.merges[k].first), b = byte_level::decode(spec.merges[k].second);
    if (!a || !b) {
      if (!spec.strict_merges) continue;
      fail(spec.source, ": merge #", k, " ('", spec.merges[k].first, "' '", spec.merges[k].second,
           "') is not byte-level text");
    }
    out.emplace_back(std::move(*a), std::move(*b));
  }
  return out;
}

void add_added_tokens(const TokenizerSpec& spec, int32_t n, Tokenizer::Impl& m) {
  std::vector<AddedTokenSpec> raw, norm;
  std::vector<const AddedTokenSpec*> by_id;
  for (const auto& t : spec.added) {
    check_id(spec, t.id, n, "added token", t.content);
    if (t.content.empty()) fail(spec.source, ": added token ", t.id, " has empty content");
    m.bytes[t.id] = byte_level::token_to_bytes(t.content);
    m.special[t.id] = t.special;
    m.text_to_id[t.content] = t.id;
    (t.normalized ? norm : raw).push_back(t);
    by_id.push_back(&t);
  }
  m.raw_added = AddedTokenMatcher(raw);
  m.norm_added = AddedTokenMatcher(norm);
  // Bytes without a base token (e.g. 0xC0, 0xF5..0xFF in the DeepSeek vocabularies) encode
  // to the added token that decodes to them, so that decode(encode(x)) == x for any bytes.
  std::sort(by_id.begin(), by_id.end(), [](auto* a, auto* b) { return a->id < b->id; });
  for (const auto* t : by_id) {
    if (m.bytes[t->id].size() == 1) m.bpe.set_byte_fallback(static_cast<uint8_t>(m.bytes[t->id][0]), t->id);
  }
}

}  // namespace

Tokenizer Tokenizer::from_spec(const TokenizerSpec& spec) {
  auto m = std::make_shared<Impl>();
  m->source = spec.source;
  const int32_t n = id_space(spec);
  m->bytes.assign(static_cast<size_t>(n), std::string());
  m->special.assign(static_cast<size_t>(n), 0);
  try {
    m->normalizer = Normalizer(spec.normalizers);
    m->pre = PreTokenizer(spec.pre);
  } catch (const Error& e) {
    fail(spec.source, ": ", e.what());
  }
  const auto vocab = vocab_bytes(spec, n, *m);
  BpeModel::Options opt;
  opt.strict = spec.strict_merges;
  opt.ignore_merges = spec.ignore_merges;
  opt.unk_id = spec.unk_id;
  m->bpe.build(vocab, merge_bytes(spec), opt, spec.source);
  add_added_tokens(spec, n, *m);
  for (int32_t id : spec.prefix_ids) check_id(spec, id, n, "post-processor token", "");
  for (int32_t id : spec.suffix_ids) check_id(spec, id, n, "post-processor token", "");
  m->prefix = spec.prefix_ids;
  m->suffix = spec.suffix_ids;
  if (spec.bos_id >= n || spec.eos_id >= n) fail(spec.source, ": BOS/EOS id out of range (vocabulary of ", n, ")");
  m->bos = spec.bos_id;
  m->eos = spec.eos_id;
  m->bos_token = spec.bos_token;
  m->eos_token = spec.eos_token;
  m->chat_template = spec.chat_template;
  return Tokenizer(std::move(m));
}

void Tokenizer::encode_plain(std::string_view text, Scratch& s, std::vector<int32_t>& out) const {
  impl_->pre.split(text, s.pre, s.pieces);
  for (std::string_view piece : s.pieces) impl_->bpe.encode(piece, s.bpe, out);
  s.pre.arena.clear();
}

void Tokenizer::encode_text(std::string_view text, Scratch& s, std::vector<int32_t>& out) const {
  const Impl& m = *impl_;
  std::string norm;
  if (!m.normalizer.empty()) {
    norm = m.normalizer.apply(text);
    text = norm;
  }
  if (m.norm_added.empty()) return encode_plain(text, s, out);
  m.norm_added.split(text, s.inner_segs);
  for (const auto& seg : s.inner_segs) {
    if (seg.id >= 0) out.push_back(seg.id);
    else encode_plain(text.substr(seg.start, seg.end - seg.start), s, out);
  }
}

std::vector<int32_t> Tokenizer::encode(std::string_view text, bool add_special_tokens) const {
  const Impl& m = *impl_;
  std::vector<int32_t> out;
  out.reserve(text.size() / 3 + 4);
  if (add_special_tokens) out = m.prefix;
  Scratch s;
  m.raw_added.split(text, s.segs);
  for (const auto& seg : s.segs) {
    if (seg.id >= 0) out.push_back(seg.id);
    else encode_text(text.substr(seg.start, seg.end - seg.start), s, out);
  }
  if (add_special_tokens) out.insert(out.end(), m.suffix.begin(), m.suffix.end());
  return out;
}

std::vector<std::string> Tokenizer::pre_tokenize(std::string_view text) const {
  const Impl& m = *impl_;
  std::vector<std::string> out;
  Scratch s;
  m.raw_added.split(text, s.segs);
  for (const auto& seg : s.segs) {
    const std::string_view part = text.substr(seg.start, seg.end - seg.start);
    if (seg.id >= 0) {
      out.emplace_back(part);
      continue;
    }
    const std::string norm = m.normalizer.empty() ? std::string(part) : m.normalizer.apply(part);
    m.norm_added.split(norm, s.inner_segs);
    for (const auto& in : s.inner_segs) {
      const std::string_view p = std::string_view(norm).substr(in.start, in.end - in.start);
      if (in.id >= 0) {
        out.emplace_back(p);
        continue;
      }
      m.pre.split(p, s.pre, s.pieces);
      for (auto piece : s.pieces) out.emplace_back(piece);
    }
  }
  return out;
}

std::string Tokenizer::decode(const std::vector<int32_t>& ids, bool skip_special_tokens) const {
  const Impl& m = *impl_;
  std::string out;
  for (int32_t id : ids) {
    if (id < 0 || id >= vocab_size()) fail("cannot decode token id ", id, ": vocabulary has ", vocab_size(), " ids");
    if (skip_special_tokens && m.special[id]) continue;
    out += m.bytes[id];
  }
  return out;
}

std::string Tokenizer::token_bytes(int32_t id) const {
  if (id < 0 || id >= vocab_size()) fail("token id ", id, " out of range: vocabulary has ", vocab_size(), " ids");
  return impl_->bytes[id];
}

bool Tokenizer::is_special(int32_t id) const { return id >= 0 && id < vocab_size() && impl_->special[id]; }
int32_t Tokenizer::vocab_size() const { return static_cast<int32_t>(impl_->bytes.size()); }
int32_t Tokenizer::bos_id() const { return impl_->bos; }
int32_t Tokenizer::eos_id() const { return impl_->eos; }
const std::string& Tokenizer::bos_token() const { return impl_->bos_token; }
const std::string& Tokenizer::eos_token() const { return impl_->eos_token; }
const std::string& Tokenizer::chat_template() const { return impl_->chat_template; }
bool Tokenizer::add_bos() const {
  return impl_->bos >= 0 && !impl_->prefix.empty() && impl_->prefix.front() == impl_->bos;
}
bool Tokenizer::add_eos() const {
  return impl_->eos >= 0 && !impl_->suffix.empty() && impl_->suffix.back() == impl_->eos;
}
const std::string& Tokenizer::source() const { return impl_->source; }

std::optional<int32_t> Tokenizer::token_to_id(std::string_view text) const {
  auto it = impl_->text_to_id.find(std::string(text));
  if (it == impl_->text_to_id.end()) return std::nullopt;
  return it->second;
}

}  // namespace dsinfer::tokenizer
