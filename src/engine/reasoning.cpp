#include "engine/reasoning.h"

#include <algorithm>

namespace dsinfer::engine {

namespace {
constexpr std::string_view kOpen = "<think>";
constexpr std::string_view kClose = "</think>";

// Length of the longest suffix of s that is a proper prefix of tag.
size_t partial_tag_suffix(std::string_view s, std::string_view tag) {
  for (size_t n = std::min(s.size(), tag.size() - 1); n > 0; --n)
    if (s.substr(s.size() - n) == tag.substr(0, n)) return n;
  return 0;
}
}  // namespace

void ReasoningSplitter::emit(Delta& d, std::string_view s) const {
  (in_reasoning_ ? d.reasoning : d.content).append(s);
}

ReasoningSplitter::Delta ReasoningSplitter::feed(std::string_view text) {
  Delta d;
  held_.append(text);
  for (;;) {
    if (at_start_ && !in_reasoning_) {
      // The model may open <think> itself, possibly after leading whitespace.
      const size_t first = held_.find_first_not_of(" \t\r\n");
      if (first == std::string::npos) return d;
      const std::string_view rest = std::string_view(held_).substr(first);
      if (rest.size() < kOpen.size() && kOpen.substr(0, rest.size()) == rest) return d;
      at_start_ = false;
      if (rest.substr(0, kOpen.size()) == kOpen) {
        held_.erase(0, first + kOpen.size());
        in_reasoning_ = true;
      }
      continue;
    }
    at_start_ = false;
    if (!in_reasoning_) {
      if (after_close_) {
        // Templates and models put a blank line after </think>; it is not content.
        held_.erase(0, std::min(held_.size(), held_.find_first_not_of("\r\n")));
        if (held_.empty()) return d;
        after_close_ = false;
      }
      emit(d, held_);
      held_.clear();
      return d;
    }
    const size_t pos = held_.find(kClose);
    if (pos == std::string::npos) {
      const size_t keep = partial_tag_suffix(held_, kClose);
      emit(d, std::string_view(held_).substr(0, held_.size() - keep));
      held_.erase(0, held_.size() - keep);
      return d;
    }
    emit(d, std::string_view(held_).substr(0, pos));
    held_.erase(0, pos + kClose.size());
    in_reasoning_ = false;
    after_close_ = true;
  }
}

ReasoningSplitter::Delta ReasoningSplitter::flush() {
  Delta d;
  if (after_close_) return d;  // only the newlines after </think> are left
  emit(d, held_);
  held_.clear();
  return d;
}

bool ReasoningSplitter::prompt_opens_think(std::string_view prompt) {
  const size_t end = prompt.find_last_not_of(" \t\r\n");
  if (end == std::string_view::npos) return false;
  const std::string_view p = prompt.substr(0, end + 1);
  const size_t open = p.rfind(kOpen);
  return open != std::string_view::npos && p.find(kClose, open) == std::string_view::npos;
}

}  // namespace dsinfer::engine
