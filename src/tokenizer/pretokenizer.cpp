#include "tokenizer/pretokenizer.h"

#include <algorithm>

#include "core/error.h"
#include "tokenizer/utf8.h"

namespace dsinfer::tokenizer {

namespace {

using Span = PreScratch::Span;

// Spans of the regex matches and of the gaps between them, covering the piece.
// Empty matches are kept (they matter for some behaviors); after one the
// search resumes one character later, as Oniguruma's find_iter does.
void regex_spans(const Regex& re, std::string_view piece, PreScratch& s) {
  size_t prev = 0, pos = 0, ms = 0, me = 0;
  if (!re.may_match(piece)) {
    s.spans.push_back({0, piece.size(), false});
    return;
  }
  while (pos <= piece.size() && re.find(piece, pos, s.md, ms, me)) {
    if (ms != prev) s.spans.push_back({prev, ms, false});
    s.spans.push_back({ms, me, true});
    prev = me;
    if (me > ms) {
      pos = me;
    } else {
      if (me >= piece.size()) break;
      const size_t n = utf8::valid_length(piece, me);
      pos = me + (n ? n : 1);
    }
  }
  if (prev != piece.size()) s.spans.push_back({prev, piece.size(), false});
}

// The common case (behavior Isolated, not inverted) without building spans:
// every match and every gap becomes a piece; empty ones are dropped.
void regex_isolated(const Regex& re, std::string_view piece, PreScratch& s, std::vector<std::string_view>& out) {
  size_t prev = 0, pos = 0, ms = 0, me = 0;
  if (re.may_match(piece)) {
    while (pos <= piece.size() && re.find(piece, pos, s.md, ms, me)) {
      if (ms != prev) out.push_back(piece.substr(prev, ms - prev));
      if (me > ms) {
        out.push_back(piece.substr(ms, me - ms));
        pos = me;
      } else {
        if (me >= piece.size()) break;
        const size_t n = utf8::valid_length(piece, me);
        pos = me + (n ? n : 1);
      }
      prev = me;
    }
  }
  if (prev != piece.size()) out.push_back(piece.substr(prev));
}

void string_spans(std::string_view lit, std::string_view piece, PreScratch& s) {
  size_t prev = 0;
  if (!lit.empty()) {
    for (size_t at = piece.find(lit); at != std::string_view::npos; at = piece.find(lit, prev)) {
      if (at != prev) s.spans.push_back({prev, at, false});
      s.spans.push_back({at, at + lit.size(), true});
      prev = at + lit.size();
    }
  }
  if (prev != piece.size()) s.spans.push_back({prev, piece.size(), false});
}

void digit_spans(std::string_view piece, PreScratch& s) {
  size_t prev = 0;
  for (size_t i = 0; i < piece.size(); ++i) {
    if (piece[i] < '0' || piece[i] > '9') continue;
    if (i != prev) s.spans.push_back({prev, i, false});
    s.spans.push_back({i, i + 1, true});
    prev = i + 1;
  }
  if (prev != piece.size()) s.spans.push_back({prev, piece.size(), false});
}

// Folds the spans as Hugging Face's SplitDelimiterBehavior does.
void apply_behavior(SplitBehavior b, std::vector<Span>& spans) {
  if (b == SplitBehavior::Isolated) return;
  std::vector<Span> out;
  out.reserve(spans.size());
  bool prev_match = false;
  switch (b) {
    case SplitBehavior::Isolated: return;
    case SplitBehavior::Removed:
      for (const auto& sp : spans) {
        if (!sp.match) out.push_back(sp);
      }
      break;
    case SplitBehavior::MergedWithPrevious:
      for (const auto& sp : spans) {
        if (sp.match && !prev_match && !out.empty()) out.back().end = sp.end;
        else out.push_back(sp);
        prev_match = sp.match;
      }
      break;
    case SplitBehavior::MergedWithNext:
      for (size_t k = spans.size(); k-- > 0;) {
        const auto& sp = spans[k];
        if (sp.match && !prev_match && !out.empty()) out.back().start = sp.start;
        else out.push_back(sp);
        prev_match = sp.match;
      }
      std::reverse(out.begin(), out.end());
      break;
    case SplitBehavior::Contiguous:
      for (const auto& sp : spans) {
        if (sp.match == prev_match && !out.empty()) out.back().end = sp.end;
        else out.push_back(sp);
        prev_match = sp.match;
      }
      break;
  }
  spans.swap(out);
}

}  // namespace

PreTokenizer::PreTokenizer(const std::vector<PreTokStep>& steps) {
  for (const auto& st : steps) {
    auto step = std::make_shared<Step>();
    step->spec = st;
    if (st.kind == PreTokStep::Kind::RegexSplit) step->re = std::make_unique<Regex>(st.pattern);
    if (st.kind == PreTokStep::Kind::ByteLevel && st.use_regex) step->re = std::make_unique<Regex>(gpt2_pattern());
    steps_.push_back(std::move(step));
  }
}

void PreTokenizer::run_step(const Step& step, std::string_view piece, PreScratch& s,
                            std::vector<std::string_view>& out) const {
  const PreTokStep& sp = step.spec;
  SplitBehavior behavior = sp.behavior;
  bool invert = sp.invert;
  s.spans.clear();
  switch (sp.kind) {
    case PreTokStep::Kind::RegexSplit:
      if (behavior == SplitBehavior::Isolated && !invert) return regex_isolated(*step.re, piece, s, out);
      regex_spans(*step.re, piece, s);
      break;
    case PreTokStep::Kind::StringSplit: string_spans(sp.pattern, piece, s); break;
    case PreTokStep::Kind::Digits:
      digit_spans(piece, s);
      behavior = sp.individual_digits ? SplitBehavior::Isolated : SplitBehavior::Contiguous;
      invert = false;
      break;
    case PreTokStep::Kind::ByteLevel:
      if (sp.add_prefix_space && (piece.empty() || piece[0] != ' ')) {
        std::string& spaced = s.arena.emplace_back();
        spaced.reserve(piece.size() + 1);
        spaced.push_back(' ');
        spaced.append(piece);
        piece = spaced;
      }
      if (!step.re) {
        if (!piece.empty()) out.push_back(piece);
        return;
      }
      return regex_isolated(*step.re, piece, s, out);
  }
  if (invert) {
    for (auto& x : s.spans) x.match = !x.match;
  }
  apply_behavior(behavior, s.spans);
  for (const auto& x : s.spans) {
    if (x.end > x.start) out.push_back(piece.substr(x.start, x.end - x.start));
  }
}

// Depth first: each piece goes through the remaining steps at once, so the
// intermediate lists stay small (one per step, reused).
void PreTokenizer::split_from(size_t step, std::string_view piece, PreScratch& s,
                              std::vector<std::string_view>& out) const {
  if (step == steps_.size()) {
    out.push_back(piece);
    return;
  }
  auto& level = s.levels[step];
  const size_t first = level.size();
  run_step(*steps_[step], piece, s, level);
  for (size_t k = first; k < level.size(); ++k) split_from(step + 1, level[k], s, out);
  level.resize(first);
}

void PreTokenizer::split(std::string_view text, PreScratch& s, std::vector<std::string_view>& out) const {
  out.clear();
  if (text.empty()) return;
  if (s.levels.size() < steps_.size()) s.levels.resize(steps_.size());
  split_from(0, text, s, out);
}

std::vector<std::string> split_with_patterns(const std::vector<std::string>& patterns, std::string_view text) {
  std::vector<PreTokStep> steps;
  for (const auto& p : patterns) {
    PreTokStep st;
    st.pattern = p;
    steps.push_back(st);
  }
  PreTokenizer pre(steps);
  PreScratch scratch;
  std::vector<std::string_view> pieces;
  pre.split(text, scratch, pieces);
  return {pieces.begin(), pieces.end()};
}

}  // namespace dsinfer::tokenizer
