// PCRE2 regex with the options the tokenizer patterns need: UTF-8, Unicode
// properties for \s \w \d and POSIX classes (PCRE2_UCP), invalid UTF-8 in the
// subject tolerated (it never matches), JIT-compiled when the platform allows.
// Internal header.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

namespace dsinfer::tokenizer {

// Per-thread match state (PCRE2 match data); reuse it across calls.
class MatchData {
 public:
  MatchData();
  ~MatchData();
  MatchData(const MatchData&) = delete;
  MatchData& operator=(const MatchData&) = delete;
  void* raw() const { return md_; }

 private:
  void* md_;
};

class Regex {
 public:
  // Throws Error "invalid regex /PATTERN/: MESSAGE at offset N".
  explicit Regex(const std::string& pattern);
  ~Regex();
  Regex(const Regex&) = delete;
  Regex& operator=(const Regex&) = delete;

  // Leftmost match in subject at or after byte `start` (the whole subject is
  // what ^, $ and look-around see). False when there is none.
  bool find(std::string_view subject, size_t start, MatchData& md, size_t& match_start, size_t& match_end) const;

  // False when no match can start anywhere in s (a cheap byte scan using the
  // pattern's first-code-unit table); true when one might.
  bool may_match(std::string_view s) const;

  const std::string& pattern() const { return pattern_; }

 private:
  struct Impl;
  std::string pattern_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace dsinfer::tokenizer
