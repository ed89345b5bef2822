// The simple Hugging Face normalizers byte-level BPE vocabularies use:
// Replace (string or regex), Prepend, Append, in sequence. NFC is accepted
// and applied as the identity: exact for text that is already in NFC (what
// virtually all input is); decomposed input is not recomposed. Internal header.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "tokenizer/regex.h"
#include "tokenizer/spec.h"

namespace dsinfer::tokenizer {

class Normalizer {
 public:
  Normalizer() = default;
  explicit Normalizer(const std::vector<NormStep>& steps);
  bool empty() const { return steps_.empty(); }
  std::string apply(std::string_view text) const;

 private:
  struct Step {
    NormStep spec;
    std::shared_ptr<const Regex> re;
  };
  std::vector<Step> steps_;
};

}  // namespace dsinfer::tokenizer
