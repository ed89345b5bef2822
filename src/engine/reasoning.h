// Splits R1-style output into reasoning (between <think> and </think>) and
// content, on streamed text deltas whose tag may be cut anywhere. When the
// chat template already opened <think> in the prompt, start in reasoning.
#pragma once

#include <string>
#include <string_view>

namespace dsinfer::engine {

class ReasoningSplitter {
 public:
  struct Delta {
    std::string reasoning;
    std::string content;
  };

  // prompt_opened_think: the rendered prompt ends inside an open <think> block.
  explicit ReasoningSplitter(bool prompt_opened_think) : in_reasoning_(prompt_opened_think) {}

  Delta feed(std::string_view text);
  // End of stream: whatever is held back (a partial tag is just text).
  Delta flush();
  bool in_reasoning() const { return in_reasoning_; }

  // True when `prompt` ends with an unclosed <think> (ignoring trailing whitespace).
  static bool prompt_opens_think(std::string_view prompt);

 private:
  void emit(Delta& d, std::string_view s) const;
  bool in_reasoning_;
  bool at_start_ = true;
  bool after_close_ = false;  // strip the newlines that follow </think>
  std::string held_;
};

}  // namespace dsinfer::engine
