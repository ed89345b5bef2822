// Python's str.format: "{}", "{0}", "{name}", "{0[key]}", "{x!r}" and a
// subset of format specs ([[fill]align][0][width][.precision][s|d|f]).
#include <cstdio>

#include "jinja/builtins.h"
#include "jinja/interp.h"
#include "jinja/text.h"

namespace dsinfer::jinja {

std::string format_string(const std::string& fmt, const Args& args);

namespace {

struct Spec {
  char32_t fill = ' ';
  char align = 0;
  size_t width = 0;
  int precision = -1;
  char type = 0;
};

bool is_align(char32_t c) { return c == '<' || c == '>' || c == '^' || c == '='; }

Spec parse_spec(const std::string& s) {
  Spec spec;
  std::u32string cps = text::decode(s);
  size_t i = 0;
  if (cps.size() >= 2 && is_align(cps[1])) {
    spec.fill = cps[0];
    spec.align = static_cast<char>(cps[1]);
    i = 2;
  } else if (!cps.empty() && is_align(cps[0])) {
    spec.align = static_cast<char>(cps[0]);
    i = 1;
  }
  if (i < cps.size() && cps[i] == '0') {
    if (!spec.align) {
      spec.fill = '0';
      spec.align = '=';
    }
    ++i;
  }
  for (; i < cps.size() && cps[i] >= '0' && cps[i] <= '9' && spec.width < 10000; ++i) spec.width = spec.width * 10 + (cps[i] - '0');
  if (i < cps.size() && cps[i] == '.') {
    spec.precision = 0;
    for (++i; i < cps.size() && cps[i] >= '0' && cps[i] <= '9' && spec.precision < 1000; ++i) {
      spec.precision = spec.precision * 10 + static_cast<int>(cps[i] - '0');
    }
  }
  if (i < cps.size() && (cps[i] == 's' || cps[i] == 'd' || cps[i] == 'f')) spec.type = static_cast<char>(cps[i++]);
  if (i != cps.size()) eval_fail("format spec '", s, "' is not supported");
  return spec;
}

std::string apply_spec(const Value& v, const Spec& spec) {
  std::string body;
  if (spec.type == 'f' || (spec.precision >= 0 && v.is_float() && spec.type != 's')) {
    if (!v.is_number()) eval_fail("unknown format code 'f' for object of type '", type_name(v), "'");
    char buf[1200];
    std::snprintf(buf, sizeof buf, "%.*f", spec.precision < 0 ? 6 : spec.precision, v.to_double());
    body = buf;
  } else if (spec.type == 'd') {
    if (!v.is_int() && !v.is_bool()) eval_fail("unknown format code 'd' for object of type '", type_name(v), "'");
    body = std::to_string(v.to_int());
  } else {
    body = to_str(v);
    if (spec.precision >= 0 && v.is_string()) body = text::encode(text::decode(body).substr(0, static_cast<size_t>(spec.precision)));
  }
  size_t len = text::count(body);
  if (len >= spec.width) return body;
  size_t pad = spec.width - len;
  char align = spec.align ? spec.align : (v.is_number() ? '>' : '<');
  std::string fill = text::encode(std::u32string(1, spec.fill));
  auto fills = [&](size_t n) {
    std::string r;
    for (size_t i = 0; i < n; ++i) r += fill;
    return r;
  };
  if (align == '<') return body + fills(pad);
  if (align == '^') return fills(pad / 2) + body + fills(pad - pad / 2);
  if (align == '=' && !body.empty() && (body[0] == '-' || body[0] == '+')) return body.substr(0, 1) + fills(pad) + body.substr(1);
  return fills(pad) + body;
}

// Resolves "name[key].attr" against the arguments.
Value resolve_field(const std::string& field, const Args& args, size_t* auto_index, bool* manual) {
  size_t end = field.find_first_of(".[");
  std::string head = field.substr(0, end);
  Value v;
  if (head.empty() || head.find_first_not_of("0123456789") == std::string::npos) {
    bool is_auto = head.empty();
    if ((is_auto && *manual) || (!is_auto && *auto_index > 0)) {
      eval_fail("cannot switch between automatic and manual field numbering");
    }
    *manual = !is_auto;
    size_t idx = is_auto ? (*auto_index)++ : static_cast<size_t>(std::stoul(head.substr(0, 9)));
    if (idx >= args.pos.size()) eval_fail("Replacement index ", idx, " out of range for positional args tuple");
    v = args.pos[idx];
  } else {
    const Value* found = nullptr;
    for (const auto& kw : args.kw) {
      if (kw.first == head) found = &kw.second;
    }
    if (!found) eval_fail("KeyError: '", head, "'");
    v = *found;
  }
  for (size_t p = end; p != std::string::npos && p < field.size();) {
    if (field[p] == '.') {
      size_t q = field.find_first_of(".[", p + 1);
      v = get_attr(v, field.substr(p + 1, q == std::string::npos ? std::string::npos : q - p - 1));
      p = q;
    } else {
      size_t q = field.find(']', p);
      if (q == std::string::npos) eval_fail("Missing ']' in format string");
      std::string key = field.substr(p + 1, q - p - 1);
      bool numeric = !key.empty() && key.size() < 18 && key.find_first_not_of("0123456789") == std::string::npos;
      v = get_item(v, numeric ? Value(static_cast<int64_t>(std::stoll(key))) : Value(key));
      p = q + 1;
    }
  }
  return v;
}

std::string format_field(const std::string& inner, const Args& args, size_t* auto_index, bool* manual) {
  size_t colon = inner.find(':');
  std::string head = inner.substr(0, colon);
  std::string spec = colon == std::string::npos ? "" : inner.substr(colon + 1);
  char conv = 0;
  size_t bang = head.find('!');
  if (bang != std::string::npos) {
    if (bang + 2 != head.size()) eval_fail("invalid conversion in format string");
    conv = head[bang + 1];
    head.resize(bang);
  }
  Value v = resolve_field(head, args, auto_index, manual);
  if (v.is_undefined()) fail_undefined(v);
  if (conv == 'r' || conv == 'a') v = Value(repr(v));
  else if (conv == 's') v = Value(to_str(v));
  else if (conv) eval_fail("Unknown conversion specifier ", conv);
  return apply_spec(v, parse_spec(spec));
}

}  // namespace

std::string format_string(const std::string& fmt, const Args& args) {
  std::string out;
  size_t auto_index = 0;
  bool manual = false;
  for (size_t i = 0; i < fmt.size(); ++i) {
    char c = fmt[i];
    if (c == '}') {
      if (i + 1 < fmt.size() && fmt[i + 1] == '}') ++i;
      else eval_fail("Single '}' encountered in format string");
      out += '}';
    } else if (c == '{') {
      if (i + 1 < fmt.size() && fmt[i + 1] == '{') {
        out += '{';
        ++i;
        continue;
      }
      size_t close = fmt.find('}', i);
      if (close == std::string::npos) eval_fail("Single '{' encountered in format string");
      out += format_field(fmt.substr(i + 1, close - i - 1), args, &auto_index, &manual);
      i = close;
    } else {
      out += c;
    }
    if (out.size() > kMaxStringBytes) eval_fail("string too long (over ", kMaxStringBytes, " bytes)");
  }
  return out;
}

}  // namespace dsinfer::jinja
