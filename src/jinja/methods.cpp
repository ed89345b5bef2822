// Methods of str, list, tuple and dict values (Python semantics).
#include <algorithm>
#include <cstdio>

#include "jinja/builtins.h"
#include "jinja/interp.h"
#include "jinja/text.h"

namespace dsinfer::jinja {

std::string format_string(const std::string& fmt, const Args& args);  // str_format.cpp

namespace {

constexpr std::string_view kStrMethods[] = {
    "split", "rsplit", "splitlines", "startswith", "endswith", "strip", "lstrip", "rstrip", "replace",
    "upper", "lower", "title", "capitalize", "find", "rfind", "count", "format", "join", "isdigit",
    "isalpha", "isalnum", "isspace", "islower", "isupper"};
constexpr std::string_view kListMethods[] = {"append", "extend", "insert", "pop", "index", "count"};
constexpr std::string_view kTupleMethods[] = {"index", "count"};
constexpr std::string_view kDictMethods[] = {"items", "keys", "values", "get"};

template <size_t N>
bool listed(const std::string_view (&names)[N], std::string_view name) {
  return std::find(std::begin(names), std::end(names), name) != std::end(names);
}

// Code point range [start, end) of a string from optional Python indices.
std::string substring(const std::string& s, const Value* start, const Value* end, size_t* offset_cp) {
  auto len = static_cast<int64_t>(text::count(s));
  auto norm = [&](const Value* v, int64_t def) {
    if (!v || v->is_none()) return def;
    int64_t i = v->to_int();
    if (i < 0) i = std::max<int64_t>(0, i + len);
    return std::min(i, len);
  };
  int64_t b = norm(start, 0), e = norm(end, len);
  *offset_cp = static_cast<size_t>(b);
  if (e <= b) return "";
  size_t bo = text::byte_offset(s, static_cast<size_t>(b)), eo = text::byte_offset(s, static_cast<size_t>(e));
  return s.substr(bo, eo - bo);
}

Value affix_test(const std::string& s, const Args& a, bool prefix) {
  BoundArgs b(a, prefix ? "startswith" : "endswith", {"prefix", "start", "end"});
  size_t off = 0;
  std::string sub = substring(s, b.get(1), b.get(2), &off);
  const Value& p = b.required(0);
  std::vector<Value> options = p.is_list() && p.list().tuple ? p.list().items : std::vector<Value>{p};
  for (const auto& o : options) {
    if (!o.is_string()) eval_fail(prefix ? "startswith" : "endswith", " first arg must be str or a tuple of str");
    const std::string& x = o.str();
    if (x.size() <= sub.size() &&
        (prefix ? sub.compare(0, x.size(), x) == 0 : sub.compare(sub.size() - x.size(), x.size(), x) == 0)) {
      return Value(true);
    }
  }
  return Value(false);
}

Value find_method(const std::string& s, const Args& a, bool reverse) {
  BoundArgs b(a, reverse ? "rfind" : "find", {"sub", "start", "end"});
  const Value& subv = b.required(0);
  if (!subv.is_string()) eval_fail("must be str, not ", type_name(subv));
  size_t off = 0;
  std::string hay = substring(s, b.get(1), b.get(2), &off);
  size_t hit = reverse ? hay.rfind(subv.str()) : hay.find(subv.str());
  if (hit == std::string::npos) return Value(-1);
  return Value(static_cast<int64_t>(off + text::cp_index(hay, hit)));
}

Value count_method(const std::string& s, const Args& a) {
  BoundArgs b(a, "count", {"sub", "start", "end"});
  const Value& subv = b.required(0);
  if (!subv.is_string()) eval_fail("must be str, not ", type_name(subv));
  size_t off = 0;
  std::string hay = substring(s, b.get(1), b.get(2), &off);
  if (subv.str().empty()) return Value(static_cast<int64_t>(text::count(hay) + 1));
  int64_t n = 0;
  for (size_t p = hay.find(subv.str()); p != std::string::npos; p = hay.find(subv.str(), p + subv.str().size())) ++n;
  return Value(n);
}

Value join_method(const std::string& sep, const Args& a) {
  BoundArgs b(a, "join", {"iterable"});
  std::string out;
  size_t i = 0;
  for (const auto& item : iterate(b.required(0))) {
    if (!item.is_string()) eval_fail("sequence item ", i, ": expected str instance, ", type_name(item), " found");
    if (i++) out += sep;
    out += item.str();
    if (out.size() > kMaxStringBytes) eval_fail("string too long (over ", kMaxStringBytes, " bytes)");
  }
  return Value(std::move(out));
}

Value split_method(const std::string& s, const Args& a, bool reverse) {
  BoundArgs b(a, reverse ? "rsplit" : "split", {"sep", "maxsplit"});
  const std::string* sep = b.str_or_null(0);
  if (sep && sep->empty()) eval_fail("empty separator");
  int64_t maxsplit = b.int_or(1, -1);
  std::vector<std::string> parts = reverse ? text::rsplit(s, sep, maxsplit) : text::split(s, sep, maxsplit);
  std::vector<Value> out(parts.begin(), parts.end());
  return Value::new_list(std::move(out));
}

bool char_class(const std::string& s, bool (*pred)(char32_t)) {
  std::u32string cps = text::decode(s);
  return !cps.empty() && std::all_of(cps.begin(), cps.end(), pred);
}

Value str_predicate(const std::string& s, std::string_view name) {
  if (name == "isdigit") return Value(char_class(s, [](char32_t c) { return c >= '0' && c <= '9'; }));
  if (name == "isalpha") {
    return Value(char_class(s, [](char32_t c) { return c >= 0x80 || ((c | 0x20) >= 'a' && (c | 0x20) <= 'z'); }));
  }
  if (name == "isalnum") {
    return Value(char_class(s, [](char32_t c) {
      return c >= 0x80 || ((c | 0x20) >= 'a' && (c | 0x20) <= 'z') || (c >= '0' && c <= '9');
    }));
  }
  if (name == "isspace") return Value(char_class(s, text::is_space));
  bool has_lower = text::upper(s) != s, has_upper = text::lower(s) != s;
  if (name == "islower") return Value(has_lower && !has_upper);
  return Value(has_upper && !has_lower);  // isupper
}

Value strip_method(const std::string& s, const Args& a, std::string_view name) {
  BoundArgs b(a, name, {"chars"});
  text::Side side = name == "strip" ? text::Side::Both : name == "lstrip" ? text::Side::Left : text::Side::Right;
  return Value(text::strip(s, b.str_or_null(0), side));
}

Value no_args(const Args& a, std::string_view name, std::string r) {
  BoundArgs b(a, name, {});
  return Value(std::move(r));
}

Value call_str_method(const std::string& s, std::string_view name, const Args& a) {
  if (name == "split" || name == "rsplit") return split_method(s, a, name == "rsplit");
  if (name == "splitlines") {
    BoundArgs b(a, name, {});
    std::vector<std::string> lines = text::splitlines(s);
    return Value::new_list(std::vector<Value>(lines.begin(), lines.end()));
  }
  if (name == "startswith" || name == "endswith") return affix_test(s, a, name == "startswith");
  if (name == "strip" || name == "lstrip" || name == "rstrip") return strip_method(s, a, name);
  if (name == "replace") {
    BoundArgs b(a, name, {"old", "new", "count"});
    const std::string* o = b.str_or_null(0);
    const std::string* n = b.str_or_null(1);
    if (!o || !n) eval_fail("replace() arguments must be str");
    check_replace_size(s, *o, *n, b.int_or(2, -1));
    Value r(text::replace(s, *o, *n, b.int_or(2, -1)));
    check_size(r);
    return r;
  }
  if (name == "upper") return no_args(a, name, text::upper(s));
  if (name == "lower") return no_args(a, name, text::lower(s));
  if (name == "title") return no_args(a, name, text::py_title(s));
  if (name == "capitalize") return no_args(a, name, text::capitalize(s));
  if (name == "find" || name == "rfind") return find_method(s, a, name == "rfind");
  if (name == "count") return count_method(s, a);
  if (name == "format") return Value(format_string(s, a));
  if (name == "join") return join_method(s, a);
  BoundArgs b(a, name, {});
  return str_predicate(s, name);
}

void check_append(const Value& self, const Value& item) {
  if (reaches(item, self.identity())) eval_fail("cannot append a list to itself");
  if (self.list().items.size() >= kMaxListItems) eval_fail("list too long");
}

int64_t list_index(const ListData& l, const Value& x) {
  for (size_t i = 0; i < l.items.size(); ++i) {
    if (equals(l.items[i], x)) return static_cast<int64_t>(i);
  }
  eval_fail(repr(x), " is not in list");
}

Value call_list_method(const Value& self, std::string_view name, const Args& a) {
  ListData& l = self.list();
  if (name == "index" || name == "count") {
    BoundArgs b(a, name, {"value"});
    const Value& x = b.required(0);
    if (name == "index") return Value(list_index(l, x));
    return Value(static_cast<int64_t>(std::count_if(l.items.begin(), l.items.end(), [&](const Value& v) { return equals(v, x); })));
  }
  if (name == "append") {
    BoundArgs b(a, name, {"object"});
    check_append(self, b.required(0));
    l.items.push_back(b.required(0));
  } else if (name == "extend") {
    BoundArgs b(a, name, {"iterable"});
    for (auto& item : iterate(b.required(0))) {
      check_append(self, item);
      l.items.push_back(std::move(item));
    }
  } else if (name == "insert") {
    BoundArgs b(a, name, {"index", "object"});
    auto len = static_cast<int64_t>(l.items.size());
    int64_t i = b.int_or(0, 0);
    i = i < 0 ? std::max<int64_t>(0, i + len) : std::min(i, len);
    check_append(self, b.required(1));
    l.items.insert(l.items.begin() + i, b.required(1));
  } else {  // pop
    BoundArgs b(a, name, {"index"});
    auto len = static_cast<int64_t>(l.items.size());
    if (len == 0) eval_fail("pop from empty list");
    int64_t i = b.int_or(0, -1);
    if (i < 0) i += len;
    if (i < 0 || i >= len) eval_fail("pop index out of range");
    Value v = l.items[static_cast<size_t>(i)];
    l.items.erase(l.items.begin() + i);
    return v;
  }
  return Value::none();
}

Value call_dict_method(const DictData& d, std::string_view name, const Args& a) {
  if (name == "get") {
    BoundArgs b(a, name, {"key", "default"});
    const Value* found = d.find(b.required(0));
    if (found) return *found;
    return b.get(1) ? *b.get(1) : Value::none();
  }
  BoundArgs b(a, name, {});
  std::vector<Value> out;
  for (const auto& [k, v] : d.entries()) {
    if (name == "items") out.push_back(Value::new_tuple({k, v}));
    else out.push_back(name == "keys" ? k : v);
  }
  return Value::new_list(std::move(out));
}

}  // namespace

bool has_method(const Value& self, std::string_view name) {
  switch (self.kind()) {
    case Value::Kind::String: return listed(kStrMethods, name);
    case Value::Kind::List: return self.list().tuple ? listed(kTupleMethods, name) : listed(kListMethods, name);
    case Value::Kind::Dict: return listed(kDictMethods, name);
    default: return false;
  }
}

Value call_method(Interp&, const Value& self, std::string_view name, const Args& args) {
  if (!has_method(self, name)) eval_fail("'", type_name(self), "' object has no attribute '", name, "'");
  if (self.is_string()) return call_str_method(self.str(), name, args);
  if (self.is_list()) return call_list_method(self, name, args);
  return call_dict_method(self.dict(), name, args);
}

}  // namespace dsinfer::jinja
