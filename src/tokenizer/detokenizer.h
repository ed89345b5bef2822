// Streaming output: IncrementalDecoder turns generated token ids into UTF-8
// text deltas without ever cutting a multi-byte character; StopMatcher finds
// stop strings that may span token (and delta) boundaries.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace dsinfer::tokenizer {

class Tokenizer;

class IncrementalDecoder {
 public:
  struct Options {
    bool skip_special_tokens = false;
    // Replace bytes that can never form valid UTF-8 (e.g. a lone 0xFC from
    // one of the single-byte added tokens) with U+FFFD. Off: such bytes are
    // passed through, so the concatenated deltas equal Tokenizer::decode().
    bool replace_invalid = false;
  };

  // The tokenizer must outlive the decoder.
  explicit IncrementalDecoder(const Tokenizer& tok) : IncrementalDecoder(tok, Options{}) {}
  IncrementalDecoder(const Tokenizer& tok, Options opt) : tok_(&tok), opt_(opt) {}

  // Adds one token; returns the text that is now complete (possibly empty).
  // A trailing incomplete UTF-8 sequence is held back until later tokens
  // complete it (or flush()).
  std::string push(int32_t id);
  std::string push(const std::vector<int32_t>& ids);
  // End of stream: returns whatever is still held back.
  std::string flush();
  void reset() { pending_.clear(); }
  // Bytes currently held back (0..3).
  size_t pending_bytes() const { return pending_.size(); }

 private:
  std::string emit(std::string_view bytes) const;
  const Tokenizer* tok_;
  Options opt_;
  std::string pending_;
};

// Stop strings for streamed text. feed() returns the text that is safe to
// show now: everything except a tail that could still turn out to be the
// start of a stop string. When a stop string appears, the text before it is
// returned, the stop string itself and everything after it are dropped (as
// OpenAI's API does), and stopped() becomes true.
class StopMatcher {
 public:
  struct Result {
    std::string text;
    bool stopped = false;
  };

  explicit StopMatcher(std::vector<std::string> stops);

  Result feed(std::string_view delta);
  // End of stream without a stop: the held-back tail (empty after a stop).
  std::string flush();
  bool stopped() const { return stopped_; }
  // The stop string that was hit ("" when none).
  const std::string& matched() const { return matched_; }
  // Longest stop string, in bytes: the most feed() ever holds back is one less.
  size_t max_stop_length() const;

 private:
  std::vector<std::string> stops_;
  std::string held_;
  bool stopped_ = false;
  std::string matched_;
};

}  // namespace dsinfer::tokenizer
