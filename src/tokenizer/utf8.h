// Small UTF-8 helpers shared by the tokenizer files (internal header).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace dsinfer::tokenizer::utf8 {

// Length of the sequence a lead byte announces: 1 for ASCII, 2..4 for lead
// bytes, 0 for continuation bytes and bytes that never start a sequence.
inline size_t sequence_length(uint8_t lead) {
  if (lead < 0x80) return 1;
  if (lead >= 0xC2 && lead <= 0xDF) return 2;
  if (lead >= 0xE0 && lead <= 0xEF) return 3;
  if (lead >= 0xF0 && lead <= 0xF4) return 4;
  return 0;
}

// Length of the valid UTF-8 sequence at s[i] (1..4), or 0 when the bytes there
// are not a complete well-formed sequence (overlong, surrogate, truncated, ...).
size_t valid_length(std::string_view s, size_t i);

// Decodes the code point at s[i] and advances i; an invalid byte yields
// U+FFFD and advances by one.
uint32_t decode(std::string_view s, size_t& i);

// Appends the UTF-8 encoding of code point cp (must be a valid scalar value).
void append(std::string& out, uint32_t cp);

// Unicode White_Space property (what Rust's char::is_whitespace tests).
bool is_whitespace(uint32_t cp);

// Number of bytes at the end of s that form an incomplete (but so far
// well-formed) UTF-8 sequence, which more bytes could complete: 0..3.
size_t incomplete_tail(std::string_view s);

}  // namespace dsinfer::tokenizer::utf8
