#include "tokenizer/normalizer.h"

#include "tokenizer/utf8.h"

namespace dsinfer::tokenizer {

namespace {

std::string replace_literal(std::string_view text, const std::string& pat, const std::string& with) {
  if (pat.empty()) return std::string(text);
  std::string out;
  size_t prev = 0;
  for (size_t at = text.find(pat); at != std::string_view::npos; at = text.find(pat, prev)) {
    out.append(text.substr(prev, at - prev)).append(with);
    prev = at + pat.size();
  }
  out.append(text.substr(prev));
  return out;
}

std::string replace_regex(std::string_view text, const Regex& re, const std::string& with) {
  MatchData md;
  std::string out;
  size_t prev = 0, pos = 0, ms = 0, me = 0;
  while (pos <= text.size() && re.find(text, pos, md, ms, me)) {
    out.append(text.substr(prev, ms - prev)).append(with);
    prev = me;
    if (me > ms) {
      pos = me;
    } else {
      if (me >= text.size()) break;
      const size_t n = utf8::valid_length(text, me);
      const size_t step = n ? n : 1;
      out.append(text.substr(me, step));
      prev = pos = me + step;
    }
  }
  out.append(text.substr(prev));
  return out;
}

}  // namespace

Normalizer::Normalizer(const std::vector<NormStep>& steps) {
  for (const auto& s : steps) {
    Step st{s, nullptr};
    if (s.kind == NormStep::Kind::ReplaceRegex) st.re = std::make_shared<Regex>(s.pattern);
    if (s.kind != NormStep::Kind::Nfc) steps_.push_back(std::move(st));
  }
}

std::string Normalizer::apply(std::string_view text) const {
  std::string cur(text);
  for (const auto& st : steps_) {
    switch (st.spec.kind) {
      case NormStep::Kind::Replace: cur = replace_literal(cur, st.spec.pattern, st.spec.content); break;
      case NormStep::Kind::ReplaceRegex: cur = replace_regex(cur, *st.re, st.spec.content); break;
      case NormStep::Kind::Prepend:
        if (!cur.empty()) cur = st.spec.content + cur;
        break;
      case NormStep::Kind::Append:
        if (!cur.empty()) cur += st.spec.content;
        break;
      case NormStep::Kind::Nfc: break;
    }
  }
  return cur;
}

}  // namespace dsinfer::tokenizer
