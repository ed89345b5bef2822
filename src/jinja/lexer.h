// Splits template source into text and tags, applying whitespace control
// (`{%-`, `-%}`, ...) and the transformers settings trim_blocks=True and
// lstrip_blocks=True, and tokenizes the inside of each tag (internal header).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace dsinfer::jinja {

struct Token {
  enum class Type { Name, String, Int, Float, Op };
  Type type = Type::Op;
  std::string text;  // name, operator, or the decoded string literal
  int64_t int_value = 0;
  double float_value = 0.0;
  int line = 0;
};

struct Segment {
  enum class Kind { Text, Print, Statement };  // text, {{ ... }}, {% ... %}
  Kind kind = Kind::Text;
  std::string text;  // Text only
  std::vector<Token> tokens;
  int line = 0;  // where the segment starts
};

// Throws dsinfer::Error("template line N: ...") on lexical errors.
std::vector<Segment> lex(std::string_view source);

}  // namespace dsinfer::jinja
