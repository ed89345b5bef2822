// Finds added tokens (special and user-defined) in raw text before any
// pre-tokenization, leftmost match first and the longest token at that
// position, as Hugging Face's added-vocabulary splitting does. Internal header.
#pragma once

#include <array>
#include <cstdint>
#include <string_view>
#include <vector>

#include "tokenizer/spec.h"

namespace dsinfer::tokenizer {

class AddedTokenMatcher {
 public:
  struct Segment {
    size_t start, end;  // byte range in the text
    int32_t id;         // the added token's id, or -1 for plain text between tokens
  };

  AddedTokenMatcher() = default;
  explicit AddedTokenMatcher(const std::vector<AddedTokenSpec>& tokens);
  bool empty() const { return tokens_.empty(); }

  // Cuts text into plain-text and token segments (cleared first; plain
  // segments are never empty). lstrip / rstrip tokens absorb the whitespace
  // next to them, which then belongs to no segment.
  void split(std::string_view text, std::vector<Segment>& out) const;

 private:
  // Byte trie of the token texts; node 0 is the root.
  struct Node {
    std::vector<std::pair<uint8_t, uint32_t>> kids;  // byte -> node
    int32_t token = -1;                              // index into tokens_ when a token ends here
  };
  uint32_t child(uint32_t node, uint8_t b) const;  // 0 when absent
  bool match_at(std::string_view text, size_t pos, const AddedTokenSpec*& tok) const;
  std::vector<AddedTokenSpec> tokens_;
  std::vector<Node> nodes_;
  std::array<uint32_t, 256> root_{};  // the root's children, direct
};

}  // namespace dsinfer::tokenizer
