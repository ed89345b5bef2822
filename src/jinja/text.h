// UTF-8 and Python-string helpers for the template engine (internal header).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace dsinfer::jinja::text {

// Decodes UTF-8 into code points. A byte that is not part of a well-formed
// sequence becomes U+DC80+byte (Python's surrogateescape), so encode()
// gives the original bytes back.
std::u32string decode(std::string_view s);
std::string encode(std::u32string_view cps);
void append_utf8(std::string& out, char32_t cp);
// Number of code points.
size_t count(std::string_view s);
// Byte offset of code point index cp_index (clamped to s.size()).
size_t byte_offset(std::string_view s, size_t cp_index);
// Code point index of byte offset off.
size_t cp_index(std::string_view s, size_t off);

// Python's str.isspace for one code point.
bool is_space(char32_t c);
// Python's str.splitlines() (without keepends).
std::vector<std::string> splitlines(std::string_view s);

// Python's strip family; chars == nullptr strips whitespace.
enum class Side { Left, Right, Both };
std::string strip(std::string_view s, const std::string* chars, Side side);

// Case mapping (ASCII letters only; other characters are kept).
std::string upper(std::string_view s);
std::string lower(std::string_view s);
std::string capitalize(std::string_view s);
std::string py_title(std::string_view s);  // str.title()

// Python str.replace; count < 0 replaces all.
std::string replace(std::string_view s, std::string_view old, std::string_view repl, int64_t count);
// Python str.split / str.rsplit; sep == nullptr splits on whitespace runs.
std::vector<std::string> split(std::string_view s, const std::string* sep, int64_t maxsplit);
std::vector<std::string> rsplit(std::string_view s, const std::string* sep, int64_t maxsplit);

}  // namespace dsinfer::jinja::text
