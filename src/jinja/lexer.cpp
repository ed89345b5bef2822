#include "jinja/lexer.h"

#include <cstdlib>

#include "core/error.h"
#include "jinja/text.h"

namespace dsinfer::jinja {

namespace {

// Jinja normalizes every newline sequence to "\n" and, since
// keep_trailing_newline is false, drops one newline at the very end.
std::string normalize_newlines(std::string_view src) {
  std::string out;
  out.reserve(src.size());
  for (size_t i = 0; i < src.size(); ++i) {
    if (src[i] == '\r') {
      out += '\n';
      if (i + 1 < src.size() && src[i + 1] == '\n') ++i;
    } else {
      out += src[i];
    }
  }
  if (!out.empty() && out.back() == '\n') out.pop_back();
  return out;
}

// Byte length of the whitespace code point at s[i] (Python's \s), or 0.
size_t space_len(std::string_view s, size_t i) {
  if (i >= s.size()) return 0;
  auto b = static_cast<unsigned char>(s[i]);
  if (b < 0x80) return text::is_space(b) ? 1 : 0;
  std::u32string cps = text::decode(s.substr(i, 4));
  if (cps.empty() || !text::is_space(cps[0])) return 0;
  std::string enc;
  text::append_utf8(enc, cps[0]);
  return enc.size();
}

bool only_blanks(std::string_view s) { return s.find_first_not_of(" \t") == std::string_view::npos; }

bool is_ident_start(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_ident(char c) { return is_ident_start(c) || is_digit(c); }

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

class Lexer {
 public:
  explicit Lexer(std::string_view source) : src_(normalize_newlines(source)) {}
  std::vector<Segment> run();

 private:
  std::string src_;
  size_t pos_ = 0;
  int line_ = 1;
  bool line_starting_ = true;
  std::vector<Segment> out_;

  [[noreturn]] void error(int line, const std::string& msg) const { fail("template line ", line, ": ", msg); }
  bool at(size_t p, std::string_view s) const { return src_.compare(p, s.size(), s) == 0; }
  void advance_to(size_t p);
  void skip_spaces();
  void emit_text(std::string text);
  std::string strip_before_tag(std::string text, char open, char sign) const;
  void finish_tag(char end_sign, bool trim_newline);
  void lex_comment(char sign);
  bool try_raw(size_t start, char sign);
  size_t find_endraw(size_t from, char* sign, size_t* end) const;
  void lex_tag(char open, char sign);
  bool try_tag_end(char open);
  Token lex_token(std::vector<char>& balance, const std::vector<Token>& prev);
  Token lex_string();
  size_t append_escape(std::string& s, size_t p, int line) const;
  Token lex_number(bool after_dot);
  Token lex_prefixed_int();
  Token lex_operator(std::vector<char>& balance);
};

void Lexer::advance_to(size_t p) {
  for (; pos_ < p && pos_ < src_.size(); ++pos_) {
    if (src_[pos_] == '\n') ++line_;
  }
}

void Lexer::skip_spaces() {
  while (size_t n = space_len(src_, pos_)) advance_to(pos_ + n);
}

void Lexer::emit_text(std::string text) {
  if (text.empty()) return;
  Segment seg;
  seg.kind = Segment::Kind::Text;
  seg.text = std::move(text);
  seg.line = line_;
  out_.push_back(std::move(seg));
}

// `{%-` strips all whitespace before the tag; otherwise lstrip_blocks removes
// blanks between the start of the line and a block or comment tag.
std::string Lexer::strip_before_tag(std::string text, char open, char sign) const {
  if (sign == '-') return text::strip(text, nullptr, text::Side::Right);
  if (sign == '+' || open == '{') return text;
  size_t l_pos = text.rfind('\n');
  l_pos = l_pos == std::string::npos ? 0 : l_pos + 1;
  if ((l_pos > 0 || line_starting_) && only_blanks(std::string_view(text).substr(l_pos))) {
    text.resize(l_pos);
  }
  return text;
}

// After a closing delimiter: `-` strips all following whitespace, otherwise
// trim_blocks drops one newline after block and comment tags.
void Lexer::finish_tag(char end_sign, bool trim_newline) {
  if (end_sign == '-') {
    skip_spaces();
  } else if (end_sign != '+' && trim_newline && pos_ < src_.size() && src_[pos_] == '\n') {
    advance_to(pos_ + 1);
  }
  line_starting_ = pos_ > 0 && src_[pos_ - 1] == '\n';
}

std::vector<Segment> Lexer::run() {
  while (pos_ < src_.size()) {
    size_t start = pos_;
    while ((start = src_.find('{', start)) != std::string::npos) {
      if (start + 1 < src_.size() && std::string_view("{%#").find(src_[start + 1]) != std::string_view::npos) break;
      ++start;
    }
    if (start == std::string::npos) {
      emit_text(src_.substr(pos_));
      break;
    }
    char open = src_[start + 1];
    char sign = start + 2 < src_.size() && (src_[start + 2] == '-' || src_[start + 2] == '+') ? src_[start + 2] : 0;
    std::string text = strip_before_tag(src_.substr(pos_, start - pos_), open, sign);
    int text_line = line_;
    advance_to(start);
    if (!text.empty()) {
      emit_text(std::move(text));
      out_.back().line = text_line;
    }
    if (open == '#') {
      lex_comment(sign);
    } else if (open != '%' || !try_raw(start, sign)) {
      lex_tag(open, sign);
    }
  }
  return std::move(out_);
}

void Lexer::lex_comment(char sign) {
  int start_line = line_;
  size_t body = pos_ + 2 + (sign ? 1 : 0);
  size_t end = src_.find("#}", body);
  if (end == std::string::npos) error(start_line, "missing end of comment tag");
  char end_sign = end > body && (src_[end - 1] == '-' || src_[end - 1] == '+') ? src_[end - 1] : 0;
  advance_to(end + 2);
  finish_tag(end_sign, true);
}

// `{% raw %}...{% endraw %}` emits its content as text, unparsed.
bool Lexer::try_raw(size_t start, char sign) {
  size_t p = start + 2 + (sign ? 1 : 0);
  while (size_t n = space_len(src_, p)) p += n;
  if (!at(p, "raw")) return false;
  p += 3;
  while (size_t n = space_len(src_, p)) p += n;
  char begin_sign = 0;
  if (at(p, "-%}")) {
    begin_sign = '-';
    p += 3;
  } else if (at(p, "%}")) {
    p += 2;
  } else {
    return false;
  }
  int start_line = line_;
  advance_to(p);
  if (begin_sign == '-') skip_spaces();
  line_starting_ = pos_ > 0 && src_[pos_ - 1] == '\n';
  char end_sign = 0;
  size_t after = 0;
  size_t tag = find_endraw(pos_, &end_sign, &after);
  if (tag == std::string::npos) error(start_line, "missing end of raw directive");
  char open_sign = src_[tag + 2] == '-' || src_[tag + 2] == '+' ? src_[tag + 2] : 0;
  emit_text(strip_before_tag(src_.substr(pos_, tag - pos_), '%', open_sign));
  advance_to(after);
  finish_tag(end_sign, true);
  return true;
}

// Finds `{%[-+]? endraw [-+]?%}` from `from`; returns its start, sets the
// closing sign and the position just after `%}`.
size_t Lexer::find_endraw(size_t from, char* sign, size_t* end) const {
  for (size_t q = src_.find("{%", from); q != std::string::npos; q = src_.find("{%", q + 1)) {
    size_t p = q + 2;
    if (p < src_.size() && (src_[p] == '-' || src_[p] == '+')) ++p;
    while (size_t n = space_len(src_, p)) p += n;
    if (!at(p, "endraw")) continue;
    p += 6;
    while (size_t n = space_len(src_, p)) p += n;
    *sign = 0;
    if (p < src_.size() && (src_[p] == '-' || src_[p] == '+')) *sign = src_[p++];
    if (!at(p, "%}")) continue;
    *end = p + 2;
    return q;
  }
  return std::string::npos;
}

void Lexer::lex_tag(char open, char sign) {
  Segment seg;
  seg.kind = open == '{' ? Segment::Kind::Print : Segment::Kind::Statement;
  seg.line = line_;
  advance_to(pos_ + 2 + (sign ? 1 : 0));
  std::vector<char> balance;
  out_.push_back(std::move(seg));
  while (true) {
    skip_spaces();
    if (pos_ >= src_.size()) {
      error(out_.back().line, open == '{' ? "unexpected end of template, expected '}}'"
                                          : "unexpected end of template, expected '%}'");
    }
    if (balance.empty() && try_tag_end(open)) return;
    Token tok = lex_token(balance, out_.back().tokens);
    out_.back().tokens.push_back(std::move(tok));
  }
}

bool Lexer::try_tag_end(char open) {
  std::string_view close = open == '{' ? "}}" : "%}";
  char sign = 0;
  size_t p = pos_;
  if (src_[p] == '-' || (src_[p] == '+' && open == '%')) sign = src_[p++];
  if (!at(p, close)) return false;
  advance_to(p + 2);
  finish_tag(sign, open == '%');
  return true;
}

Token Lexer::lex_token(std::vector<char>& balance, const std::vector<Token>& prev) {
  char c = src_[pos_];
  if (c == '\'' || c == '"') return lex_string();
  bool after_dot = !prev.empty() && prev.back().type == Token::Type::Op && prev.back().text == ".";
  if (is_digit(c)) return lex_number(after_dot);
  if (is_ident_start(c)) {
    Token t;
    t.type = Token::Type::Name;
    t.line = line_;
    size_t e = pos_;
    while (e < src_.size() && is_ident(src_[e])) ++e;
    t.text = src_.substr(pos_, e - pos_);
    advance_to(e);
    return t;
  }
  return lex_operator(balance);
}

Token Lexer::lex_string() {
  Token t;
  t.type = Token::Type::String;
  t.line = line_;
  char quote = src_[pos_];
  size_t p = pos_ + 1;
  while (true) {
    if (p >= src_.size()) error(t.line, "unterminated string literal");
    char c = src_[p];
    if (c == quote) break;
    if (c == '\\' && p + 1 < src_.size()) {
      p = append_escape(t.text, p + 1, t.line);
    } else {
      t.text += c;
      ++p;
    }
  }
  advance_to(p + 1);
  return t;
}

// Decodes the escape whose letter is at src_[p] (Python's unicode-escape
// rules; unknown escapes keep their backslash). Returns the position after it.
size_t Lexer::append_escape(std::string& s, size_t p, int line) const {
  char e = src_[p++];
  switch (e) {
    case '\n': return p;  // line continuation
    case '\\': s += '\\'; return p;
    case '\'': s += '\''; return p;
    case '"': s += '"'; return p;
    case 'a': s += '\a'; return p;
    case 'b': s += '\b'; return p;
    case 'f': s += '\f'; return p;
    case 'n': s += '\n'; return p;
    case 'r': s += '\r'; return p;
    case 't': s += '\t'; return p;
    case 'v': s += '\v'; return p;
    default: break;
  }
  if (e == 'x' || e == 'u' || e == 'U') {
    size_t n = e == 'x' ? 2 : e == 'u' ? 4 : 8;
    char32_t cp = 0;
    for (size_t k = 0; k < n; ++k) {
      int h = p + k < src_.size() ? hex_value(src_[p + k]) : -1;
      if (h < 0) error(line, cat("truncated \\", e, " escape in string literal"));
      cp = cp * 16 + static_cast<char32_t>(h);
    }
    if (cp > 0x10FFFF) error(line, "illegal Unicode character in string literal");
    text::append_utf8(s, cp);
    return p + n;
  }
  if (e >= '0' && e <= '7') {
    char32_t cp = static_cast<char32_t>(e - '0');
    for (int k = 0; k < 2 && p < src_.size() && src_[p] >= '0' && src_[p] <= '7'; ++k, ++p) {
      cp = cp * 8 + static_cast<char32_t>(src_[p] - '0');
    }
    text::append_utf8(s, cp);
    return p;
  }
  s += '\\';
  s += e;
  return p;
}

Token Lexer::lex_number(bool after_dot) {
  Token t;
  t.line = line_;
  size_t p = pos_;
  auto digits = [&](std::string& into) {
    while (p < src_.size() && (is_digit(src_[p]) || (src_[p] == '_' && p + 1 < src_.size() && is_digit(src_[p + 1])))) {
      if (src_[p] != '_') into += src_[p];
      ++p;
    }
  };
  if (src_[p] == '0' && p + 2 < src_.size() && std::string_view("xXoObB").find(src_[p + 1]) != std::string_view::npos) {
    return lex_prefixed_int();
  }
  std::string num;
  digits(num);
  bool is_float = false;
  if (!after_dot && p + 1 < src_.size() && src_[p] == '.' && is_digit(src_[p + 1])) {
    is_float = true;
    num += src_[p++];
    digits(num);
  }
  if (!after_dot && p < src_.size() && (src_[p] == 'e' || src_[p] == 'E')) {
    size_t q = p + 1;
    if (q < src_.size() && (src_[q] == '+' || src_[q] == '-')) ++q;
    if (q < src_.size() && is_digit(src_[q])) {
      is_float = true;
      num += 'e';
      num.append(src_, p + 1, q - p - 1);
      p = q;
      digits(num);
    }
  }
  if (p < src_.size() && is_ident(src_[p])) error(t.line, "invalid number literal");
  advance_to(p);
  if (is_float) {
    t.type = Token::Type::Float;
    t.float_value = std::strtod(num.c_str(), nullptr);
    return t;
  }
  t.type = Token::Type::Int;
  for (char c : num) {
    if (__builtin_mul_overflow(t.int_value, int64_t{10}, &t.int_value) ||
        __builtin_add_overflow(t.int_value, int64_t{c - '0'}, &t.int_value)) {
      error(t.line, "integer literal too large");
    }
  }
  return t;
}

// 0x1F, 0o17, 0b101 (underscores allowed between digits).
Token Lexer::lex_prefixed_int() {
  Token t;
  t.type = Token::Type::Int;
  t.line = line_;
  char kind = static_cast<char>(src_[pos_ + 1] | 0x20);
  int base = kind == 'x' ? 16 : kind == 'o' ? 8 : 2;
  size_t p = pos_ + 2;
  bool any = false;
  for (; p < src_.size(); ++p) {
    if (src_[p] == '_') continue;
    int d = hex_value(src_[p]);
    if (d < 0 || d >= base) break;
    any = true;
    if (__builtin_mul_overflow(t.int_value, int64_t{base}, &t.int_value) ||
        __builtin_add_overflow(t.int_value, int64_t{d}, &t.int_value)) {
      error(t.line, "integer literal too large");
    }
  }
  if (!any || (p < src_.size() && is_ident(src_[p]))) error(t.line, "invalid number literal");
  advance_to(p);
  return t;
}

Token Lexer::lex_operator(std::vector<char>& balance) {
  static const char* const kOps[] = {"//", "**", "==", "!=", "<=", ">=", "+", "-", "*", "/", "%", "~",
                                     "[",  "]",  "(",  ")",  "{",  "}",  "<", ">", "=", ".", ":", "|",
                                     ",",  ";"};
  Token t;
  t.line = line_;
  for (const char* op : kOps) {
    if (!at(pos_, op)) continue;
    t.text = op;
    break;
  }
  if (t.text.empty()) error(t.line, cat("unexpected character '", src_[pos_], "' in tag"));
  char c = t.text[0];
  if (c == '(' || c == '[' || c == '{') {
    balance.push_back(c == '(' ? ')' : c == '[' ? ']' : '}');
  } else if (c == ')' || c == ']' || c == '}') {
    if (balance.empty() || balance.back() != c) error(t.line, cat("unexpected '", c, "'"));
    balance.pop_back();
  }
  advance_to(pos_ + t.text.size());
  return t;
}

}  // namespace

std::vector<Segment> lex(std::string_view source) { return Lexer(source).run(); }

}  // namespace dsinfer::jinja
