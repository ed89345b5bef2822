// The GPT-2 byte <-> unicode map used by byte-level BPE: every byte gets a
// printable code point (bytes 0x21..0x7E, 0xA1..0xAC and 0xAE..0xFF map to
// themselves, the other 68 to U+0100.. in byte order), so that vocabulary
// entries can be stored as text. Internal header.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace dsinfer::tokenizer::byte_level {

// Code point that byte b is written as.
uint32_t byte_to_codepoint(uint8_t b);

// The byte a code point stands for, or -1 when cp is not in the map.
int codepoint_to_byte(uint32_t cp);

// Raw bytes -> byte-level text ("Hello world" -> "HelloĠworld").
std::string encode(std::string_view bytes);

// Byte-level text -> raw bytes; nullopt when some character is not in the map
// (or the text is not valid UTF-8).
std::optional<std::string> decode(std::string_view text);

// What a token contributes to decoded output, as Hugging Face's ByteLevel
// decoder does it: the mapped bytes when every character is in the map,
// otherwise the token's own text unchanged.
std::string token_to_bytes(std::string_view token);

}  // namespace dsinfer::tokenizer::byte_level
