// Filters on strings and numbers, tojson, default and attr.
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "jinja/builtins.h"
#include "jinja/interp.h"
#include "jinja/json.h"
#include "jinja/text.h"

namespace dsinfer::jinja {

namespace {

Value f_trim(Interp&, const Value& v, const Args& a) {
  BoundArgs b(a, "trim", {"chars"});
  return Value(text::strip(to_str(v), b.str_or_null(0), text::Side::Both));
}

Value f_upper(Interp&, const Value& v, const Args& a) {
  BoundArgs b(a, "upper", {});
  return Value(text::upper(to_str(v)));
}

Value f_lower(Interp&, const Value& v, const Args& a) {
  BoundArgs b(a, "lower", {});
  return Value(text::lower(to_str(v)));
}

Value f_capitalize(Interp&, const Value& v, const Args& a) {
  BoundArgs b(a, "capitalize", {});
  return Value(text::capitalize(to_str(v)));
}

// Jinja's title: a word starts after '-', whitespace or an opening bracket.
Value f_title(Interp&, const Value& v, const Args& a) {
  BoundArgs b(a, "title", {});
  std::u32string cps = text::decode(to_str(v));
  bool word_start = true;
  std::string out;
  for (char32_t c : cps) {
    bool sep = c == '-' || c == '(' || c == '{' || c == '[' || c == '<' || text::is_space(c);
    std::string one = text::encode(std::u32string(1, c));
    out += sep ? one : word_start ? text::upper(one) : text::lower(one);
    word_start = sep;
  }
  return Value(std::move(out));
}

Value f_replace(Interp&, const Value& v, const Args& a) {
  BoundArgs b(a, "replace", {"old", "new", "count"});
  std::string old_s = to_str(b.required(0)), new_s = to_str(b.required(1)), s = to_str(v);
  check_replace_size(s, old_s, new_s, b.int_or(2, -1));
  Value r(text::replace(s, old_s, new_s, b.int_or(2, -1)));
  check_size(r);
  return r;
}

Value f_string(Interp&, const Value& v, const Args& a) {
  BoundArgs b(a, "string", {});
  return Value(to_str(v));
}

Value f_escape(Interp&, const Value& v, const Args& a) {
  BoundArgs b(a, "escape", {});
  std::string out;
  for (char c : to_str(v)) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&#34;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return Value(std::move(out));
}

Value f_indent(Interp&, const Value& v, const Args& a) {
  BoundArgs b(a, "indent", {"width", "first", "blank"});
  std::string ind = "    ";
  if (b.get(0) && b.get(0)->is_string()) {
    ind = b.get(0)->str();
  } else if (b.get(0)) {
    ind = std::string(static_cast<size_t>(std::max<int64_t>(0, std::min<int64_t>(b.int_or(0, 4), 1024))), ' ');
  }
  std::vector<std::string> lines = text::splitlines(to_str(v) + "\n");
  std::string out;
  for (size_t i = 0; i < lines.size(); ++i) {
    if (i > 0) out += "\n";
    bool pad = i > 0 && (b.bool_or(2, false) || !lines[i].empty());
    if (pad) out += ind;
    out += lines[i];
    if (out.size() > kMaxStringBytes) eval_fail("string too long (over ", kMaxStringBytes, " bytes)");
  }
  if (b.bool_or(1, false)) out = ind + out;
  Value r(std::move(out));
  check_size(r);
  return r;
}

// Python's int(str, base) for plain digit strings (sign, underscores).
bool parse_int(std::string s, int base, int64_t* out) {
  std::string t = text::strip(s, nullptr, text::Side::Both);
  std::string clean;
  for (size_t i = 0; i < t.size(); ++i) {
    if (t[i] == '_' && i > 0 && i + 1 < t.size() && t[i - 1] != '_') continue;
    clean += t[i];
  }
  size_t start = !clean.empty() && (clean[0] == '+' || clean[0] == '-') ? 1 : 0;
  if (base == 16 && clean.compare(start, 2, "0x") == 0) clean.erase(start, 2);
  if (clean.size() > start && clean[0] == '+') clean.erase(0, 1);
  auto res = std::from_chars(clean.data(), clean.data() + clean.size(), *out, base);
  return !clean.empty() && res.ec == std::errc() && res.ptr == clean.data() + clean.size();
}

bool parse_float(const std::string& s, double* out) {
  std::string t = text::strip(s, nullptr, text::Side::Both);
  if (t.empty() || t.find_first_of("xX") != std::string::npos) return false;
  char* end = nullptr;
  *out = std::strtod(t.c_str(), &end);
  return end == t.c_str() + t.size();
}

Value f_int(Interp&, const Value& v, const Args& a) {
  BoundArgs b(a, "int", {"default", "base"});
  Value def = b.get(0) ? *b.get(0) : Value(0);
  if (v.is_undefined()) fail_undefined(v);
  if (v.is_int() || v.is_bool()) return Value(v.to_int());
  double d = 0;
  if (v.is_string()) {
    int64_t i = 0;
    int base = static_cast<int>(b.int_or(1, 10));
    if (base >= 2 && base <= 36 && parse_int(v.str(), base, &i)) return Value(i);
    if (!parse_float(v.str(), &d)) return def;
  } else if (v.is_float()) {
    d = v.get_float();
  } else {
    return def;
  }
  if (std::isnan(d) || std::isinf(d)) return def;
  if (std::fabs(d) >= 9.2e18) eval_fail("integer overflow");
  return Value(static_cast<int64_t>(d));
}

Value f_float(Interp&, const Value& v, const Args& a) {
  BoundArgs b(a, "float", {"default"});
  if (v.is_undefined()) fail_undefined(v);
  if (v.is_number()) return Value(v.to_double());
  double d = 0;
  if (v.is_string() && parse_float(v.str(), &d)) return Value(d);
  return b.get(0) ? *b.get(0) : Value(0.0);
}

Value f_abs(Interp&, const Value& v, const Args& a) {
  BoundArgs b(a, "abs", {});
  if (v.is_float()) return Value(std::fabs(v.get_float()));
  if (v.is_int() || v.is_bool()) {
    if (v.to_int() == INT64_MIN) eval_fail("integer overflow");
    return Value(v.to_int() < 0 ? -v.to_int() : v.to_int());
  }
  if (v.is_undefined()) fail_undefined(v);
  eval_fail("bad operand type for abs(): '", type_name(v), "'");
}

// Python's round(x, n): correctly rounded, ties to even.
double py_round(double x, int64_t n) {
  if (n >= 0) {
    if (n > 300 || !std::isfinite(x)) return x;
    char buf[512];
    std::snprintf(buf, sizeof buf, "%.*f", static_cast<int>(n), x);
    return std::strtod(buf, nullptr);
  }
  double p = std::pow(10.0, static_cast<double>(-n));
  return std::nearbyint(x / p) * p;
}

Value f_round(Interp&, const Value& v, const Args& a) {
  BoundArgs b(a, "round", {"precision", "method"});
  int64_t prec = b.int_or(0, 0);
  const std::string* method = b.str_or_null(1);
  std::string m = method ? *method : "common";
  if (m != "common" && m != "ceil" && m != "floor") eval_fail("method must be 'common', 'ceil' or 'floor'");
  if (v.is_undefined()) fail_undefined(v);
  if (!v.is_number()) eval_fail("type ", type_name(v), " doesn't define __round__ method");
  if (m == "common") {
    if (!v.is_float() && prec >= 0) return Value(v.to_int());
    double r = py_round(v.to_double(), prec);
    if (!v.is_float()) return Value(static_cast<int64_t>(r));
    return Value(r);
  }
  double p = std::pow(10.0, static_cast<double>(prec));
  double x = v.to_double() * p;
  return Value((m == "ceil" ? std::ceil(x) : std::floor(x)) / p);
}

// transformers' tojson: json.dumps(x, ensure_ascii=False, indent=None,
// separators=None, sort_keys=False).
Value f_tojson(Interp&, const Value& v, const Args& a) {
  BoundArgs b(a, "tojson", {"ensure_ascii", "indent", "separators", "sort_keys"});
  JsonOptions opt;
  opt.ensure_ascii = b.bool_or(0, false);
  if (!b.absent(1)) {
    const Value& ind = *b.get(1);
    if (ind.is_string()) {
      opt.indent = ind.str();
    } else {
      opt.indent = std::string(static_cast<size_t>(std::max<int64_t>(0, std::min<int64_t>(b.int_or(1, 0), 1024))), ' ');
    }
    opt.item_sep.assign(1, ',');
  }
  if (!b.absent(2)) {
    const Value& sep = *b.get(2);
    if (!sep.is_list() || sep.list().items.size() != 2 || !sep.list().items[0].is_string() ||
        !sep.list().items[1].is_string()) {
      eval_fail("tojson(): separators must be a pair of strings");
    }
    opt.item_sep = sep.list().items[0].str();
    opt.key_sep = sep.list().items[1].str();
  }
  opt.sort_keys = b.bool_or(3, false);
  Value r(to_json(v, opt));
  check_size(r);
  return r;
}

Value f_default(Interp&, const Value& v, const Args& a) {
  BoundArgs b(a, "default", {"default_value", "boolean"});
  bool use_default = v.is_undefined() || (b.bool_or(1, false) && !truthy(v));
  if (!use_default) return v;
  return b.get(0) ? *b.get(0) : Value("");
}

Value f_wordcount(Interp&, const Value& v, const Args& a) {
  BoundArgs b(a, "wordcount", {});
  int64_t words = 0;
  bool in_word = false;
  for (char32_t c : text::decode(to_str(v))) {
    bool word_char = c == '_' || (c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'z') ||
                     (c >= 0x80 && !text::is_space(c));
    if (word_char && !in_word) ++words;
    in_word = word_char;
  }
  return Value(words);
}

Value f_center(Interp&, const Value& v, const Args& a) {
  BoundArgs b(a, "center", {"width"});
  std::string s = to_str(v);
  auto len = static_cast<int64_t>(text::count(s));
  int64_t width = std::min<int64_t>(b.int_or(0, 80), static_cast<int64_t>(kMaxStringBytes));
  if (width <= len) return Value(std::move(s));
  // Python's str.center puts the odd space on the right for even widths.
  int64_t pad = width - len, left = pad / 2 + (pad & width & 1);
  return Value(std::string(static_cast<size_t>(left), ' ') + s + std::string(static_cast<size_t>(pad - left), ' '));
}

Value f_attr(Interp&, const Value& v, const Args& a) {
  BoundArgs b(a, "attr", {"name"});
  std::string name = to_str(b.required(0));
  // Python getattr only: dict items are not attributes.
  if (v.is_dict() && !has_method(v, name)) return Value::undefined(cat("'dict object' has no attribute '", name, "'"));
  return get_attr(v, name);
}

struct Entry {
  std::string_view name;
  FilterFn fn;
};

const Entry kTextFilters[] = {
    {"trim", f_trim},       {"upper", f_upper},   {"lower", f_lower},     {"capitalize", f_capitalize},
    {"title", f_title},     {"replace", f_replace}, {"string", f_string}, {"safe", f_string},
    {"escape", f_escape},   {"e", f_escape},      {"forceescape", f_escape}, {"indent", f_indent},
    {"int", f_int},         {"float", f_float},   {"abs", f_abs},         {"round", f_round},
    {"tojson", f_tojson},   {"default", f_default}, {"d", f_default},     {"attr", f_attr},
    {"wordcount", f_wordcount}, {"center", f_center},
};

}  // namespace

FilterFn find_text_filter(std::string_view name) {
  for (const auto& e : kTextFilters) {
    if (e.name == name) return e.fn;
  }
  return nullptr;
}

}  // namespace dsinfer::jinja
