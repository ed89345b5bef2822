#include "tokenizer/added_tokens.h"

#include "tokenizer/utf8.h"

namespace dsinfer::tokenizer {

namespace {

// Start of the run of whitespace characters that ends at pos (not before floor).
size_t skip_space_back(std::string_view s, size_t pos, size_t floor) {
  for (;;) {
    bool moved = false;
    for (size_t k = 1; k <= 3 && pos >= floor + k; ++k) {
      size_t i = pos - k;
      if (utf8::valid_length(s, i) != k) continue;
      if (utf8::is_whitespace(utf8::decode(s, i))) {
        pos -= k;
        moved = true;
      }
      break;
    }
    if (!moved) return pos;
  }
}

size_t skip_space_forward(std::string_view s, size_t pos) {
  while (pos < s.size()) {
    size_t i = pos;
    if (!utf8::is_whitespace(utf8::decode(s, i))) break;
    pos = i;
  }
  return pos;
}

// Word characters for single_word tokens: ASCII letters, digits, '_' and any
// non-ASCII character that is not whitespace (an approximation of
// Unicode alphanumerics that is exact for ASCII text).
bool is_word_char(uint32_t cp) {
  if (cp < 0x80) return (cp >= '0' && cp <= '9') || (cp >= 'a' && cp <= 'z') || (cp >= 'A' && cp <= 'Z') || cp == '_';
  return !utf8::is_whitespace(cp);
}

bool word_before(std::string_view s, size_t pos) {
  for (size_t k = 1; k <= 4 && k <= pos; ++k) {
    size_t i = pos - k;
    if (utf8::valid_length(s, i) == k) return is_word_char(utf8::decode(s, i));
  }
  return false;
}

bool word_after(std::string_view s, size_t pos) {
  if (pos >= s.size()) return false;
  return is_word_char(utf8::decode(s, pos));
}

}  // namespace

AddedTokenMatcher::AddedTokenMatcher(const std::vector<AddedTokenSpec>& tokens) : nodes_(1) {
  for (const auto& t : tokens) {
    if (t.content.empty()) continue;
    uint32_t node = 0;
    for (char c : t.content) {
      const auto b = static_cast<uint8_t>(c);
      uint32_t next = child(node, b);
      if (next == 0) {
        next = static_cast<uint32_t>(nodes_.size());
        nodes_.emplace_back();
        if (node == 0) root_[b] = next;
        else nodes_[node].kids.emplace_back(b, next);
      }
      node = next;
    }
    if (nodes_[node].token >= 0) continue;  // same text twice: the first one wins
    nodes_[node].token = static_cast<int32_t>(tokens_.size());
    tokens_.push_back(t);
  }
}

uint32_t AddedTokenMatcher::child(uint32_t node, uint8_t b) const {
  if (node == 0) return root_[b];
  for (const auto& [kb, k] : nodes_[node].kids) {
    if (kb == b) return k;
  }
  return 0;
}

// The longest token starting at pos (that satisfies its single_word rule).
bool AddedTokenMatcher::match_at(std::string_view text, size_t pos, const AddedTokenSpec*& tok) const {
  int32_t ends[64];  // token indexes along the path, shortest first
  size_t n_ends = 0;
  uint32_t node = 0;
  for (size_t i = pos; i < text.size(); ++i) {
    node = child(node, static_cast<uint8_t>(text[i]));
    if (node == 0) break;
    if (nodes_[node].token >= 0 && n_ends < 64) ends[n_ends++] = nodes_[node].token;
  }
  while (n_ends > 0) {
    const AddedTokenSpec& t = tokens_[ends[--n_ends]];
    if (t.single_word && (word_before(text, pos) || word_after(text, pos + t.content.size()))) continue;
    tok = &t;
    return true;
  }
  return false;
}

void AddedTokenMatcher::split(std::string_view text, std::vector<Segment>& out) const {
  out.clear();
  size_t seg_start = 0, pos = 0;
  while (pos < text.size()) {
    const AddedTokenSpec* tok = nullptr;
    if (root_[static_cast<uint8_t>(text[pos])] == 0 || !match_at(text, pos, tok)) {
      ++pos;
      continue;
    }
    const size_t start = tok->lstrip ? skip_space_back(text, pos, seg_start) : pos;
    size_t end = pos + tok->content.size();
    if (tok->rstrip) end = skip_space_forward(text, end);
    if (start > seg_start) out.push_back({seg_start, start, -1});
    out.push_back({start, end, tok->id});
    seg_start = pos = end;
  }
  if (seg_start < text.size()) out.push_back({seg_start, text.size(), -1});
}

}  // namespace dsinfer::tokenizer
