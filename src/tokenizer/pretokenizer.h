// Pre-tokenization: cuts a text into the pieces BPE works on, following the
// Hugging Face pre-tokenizers (Sequence of Split / ByteLevel / Digits). Each
// step runs on every piece the previous step left, separately: a regex never
// sees across a piece border. Internal header.
#pragma once

#include <deque>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "tokenizer/regex.h"
#include "tokenizer/spec.h"

namespace dsinfer::tokenizer {

// Reusable per-call buffers (not shared between threads).
struct PreScratch {
  MatchData md;
  std::vector<std::vector<std::string_view>> levels;  // pieces of one piece, per step
  struct Span {
    size_t start, end;
    bool match;
  };
  std::vector<Span> spans;
  std::deque<std::string> arena;  // pieces that are not views of the input (prefix space)
};

class PreTokenizer {
 public:
  PreTokenizer() = default;
  explicit PreTokenizer(const std::vector<PreTokStep>& steps);

  // Appends the pieces of text to out (cleared first). Views point into text
  // or into scratch.arena; empty pieces are dropped.
  void split(std::string_view text, PreScratch& scratch, std::vector<std::string_view>& out) const;

 private:
  struct Step {
    PreTokStep spec;
    std::unique_ptr<Regex> re;  // RegexSplit, and ByteLevel with use_regex
  };
  void run_step(const Step& step, std::string_view piece, PreScratch& s, std::vector<std::string_view>& out) const;
  void split_from(size_t step, std::string_view piece, PreScratch& s, std::vector<std::string_view>& out) const;
  std::vector<std::shared_ptr<const Step>> steps_;
};

// Convenience for tests and tools: splits text with a Sequence of Isolated
// regex Splits, one per pattern, and returns the pieces.
std::vector<std::string> split_with_patterns(const std::vector<std::string>& patterns, std::string_view text);

}  // namespace dsinfer::tokenizer
