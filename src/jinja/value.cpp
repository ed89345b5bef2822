#include "jinja/value.h"

#include <charconv>
#include <cmath>
#include <cstdio>

#include "jinja/text.h"

namespace dsinfer::jinja {

// ---- construction and destruction ----

Value Value::undefined(std::string hint) {
  Value v;
  v.v_ = Undef{std::move(hint)};
  return v;
}

Value Value::new_list(std::vector<Value> items) {
  auto l = std::make_shared<ListData>();
  l->items = std::move(items);
  return Value(std::move(l));
}

Value Value::new_tuple(std::vector<Value> items) {
  auto l = std::make_shared<ListData>();
  l->items = std::move(items);
  l->tuple = true;
  return Value(std::move(l));
}

Value Value::new_dict() { return Value(std::make_shared<DictData>()); }

const void* Value::identity() const {
  switch (kind()) {
    case Kind::List: return std::get<ListPtr>(v_).get();
    case Kind::Dict: return std::get<DictPtr>(v_).get();
    case Kind::Callable: return std::get<CallablePtr>(v_).get();
    case Kind::Namespace: return std::get<NamespacePtr>(v_).get();
    default: return nullptr;
  }
}

double Value::to_double() const {
  if (is_float()) return get_float();
  return static_cast<double>(to_int());
}

namespace {

// Destroying a deeply nested structure must not recurse once per level (it
// would overflow the stack): the outermost destructor collects the children
// of every container that dies inside it and releases them in a loop.
thread_local std::vector<Value>* g_pending = nullptr;

void release(std::vector<Value>& values) {
  if (g_pending) {
    for (auto& v : values) {
      if (v.identity()) g_pending->push_back(std::move(v));
    }
    return;
  }
  std::vector<Value> work;
  g_pending = &work;
  for (auto& v : values) {
    if (v.identity()) work.push_back(std::move(v));
  }
  while (!work.empty()) {
    Value v = std::move(work.back());
    work.pop_back();
  }
  g_pending = nullptr;
}

}  // namespace

ListData::~ListData() { release(items); }

DictData::~DictData() {
  std::vector<Value> values;
  values.reserve(entries_.size());
  for (auto& e : entries_) values.push_back(std::move(e.second));
  release(values);
}

// ---- dict ----

const Value* DictData::find(std::string_view key) const {
  if (entries_.size() <= kLinearScanMax) {
    for (const auto& e : entries_) {
      if (e.first.is_string() && e.first.str() == key) return &e.second;
    }
    return nullptr;
  }
  auto it = string_index_.find(std::string(key));
  return it == string_index_.end() ? nullptr : &entries_[it->second].second;
}

const Value* DictData::find(const Value& key) const {
  if (key.is_string()) return find(std::string_view(key.str()));
  for (const auto& e : entries_) {
    if (!e.first.is_string() && equals(e.first, key)) return &e.second;
  }
  return nullptr;
}

void DictData::set(const Value& key, Value value) {
  if (const Value* existing = find(key)) {
    const_cast<Value&>(*existing) = std::move(value);
    return;
  }
  entries_.emplace_back(key, std::move(value));
  if (entries_.size() == kLinearScanMax + 1) {
    for (size_t i = 0; i < entries_.size(); ++i) {
      if (entries_[i].first.is_string()) string_index_.emplace(entries_[i].first.str(), i);
    }
  } else if (entries_.size() > kLinearScanMax + 1 && key.is_string()) {
    string_index_.emplace(key.str(), entries_.size() - 1);
  }
}

// ---- Python semantics ----

bool truthy(const Value& v) {
  switch (v.kind()) {
    case Value::Kind::Undefined:
    case Value::Kind::None: return false;
    case Value::Kind::Bool: return v.get_bool();
    case Value::Kind::Int: return v.get_int() != 0;
    case Value::Kind::Float: return v.get_float() != 0.0;
    case Value::Kind::String: return !v.str().empty();
    case Value::Kind::List: return !v.list().items.empty();
    case Value::Kind::Dict: return v.dict().size() != 0;
    default: return true;
  }
}

namespace {

bool equals_at(const Value& a, const Value& b, int depth);

bool dict_equals(const DictData& a, const DictData& b, int depth) {
  if (a.size() != b.size()) return false;
  for (const auto& [k, v] : a.entries()) {
    const Value* other = b.find(k);
    if (!other || !equals_at(v, *other, depth + 1)) return false;
  }
  return true;
}

bool equals_at(const Value& a, const Value& b, int depth) {
  if (depth > kMaxValueDepth) eval_fail("value nested too deeply to compare");
  using K = Value::Kind;
  if (a.is_number() && b.is_number()) {
    if (a.is_float() || b.is_float()) return a.to_double() == b.to_double();
    return a.to_int() == b.to_int();
  }
  if (a.kind() != b.kind()) return false;
  switch (a.kind()) {
    case K::Undefined:
    case K::None: return true;
    case K::String: return a.str() == b.str();
    case K::List: {
      const auto& x = a.list();
      const auto& y = b.list();
      if (x.tuple != y.tuple || x.items.size() != y.items.size()) return false;
      for (size_t i = 0; i < x.items.size(); ++i) {
        if (!equals_at(x.items[i], y.items[i], depth + 1)) return false;
      }
      return true;
    }
    case K::Dict: return dict_equals(a.dict(), b.dict(), depth);
    default: return a.identity() == b.identity();
  }
}

int compare_at(const Value& a, const Value& b, int depth) {
  if (depth > kMaxValueDepth) eval_fail("value nested too deeply to compare");
  if (a.is_undefined()) fail_undefined(a);
  if (b.is_undefined()) fail_undefined(b);
  if (a.is_number() && b.is_number()) {
    if (!a.is_float() && !b.is_float()) return a.to_int() < b.to_int() ? -1 : a.to_int() > b.to_int();
    double x = a.to_double(), y = b.to_double();
    return x < y ? -1 : x > y ? 1 : 0;
  }
  if (a.is_string() && b.is_string()) return a.str().compare(b.str()) < 0 ? -1 : a.str() != b.str();
  if (a.is_list() && b.is_list() && a.list().tuple == b.list().tuple) {
    const auto& x = a.list().items;
    const auto& y = b.list().items;
    for (size_t i = 0; i < x.size() && i < y.size(); ++i) {
      if (!equals_at(x[i], y[i], depth + 1)) return compare_at(x[i], y[i], depth + 1);
    }
    return x.size() < y.size() ? -1 : x.size() > y.size();
  }
  eval_fail("'<' not supported between instances of '", type_name(a), "' and '", type_name(b), "'");
}

void append_escaped_cp(std::string& out, char32_t c) {
  char buf[16];
  if (c < 0x100) {
    std::snprintf(buf, sizeof buf, "\\x%02x", static_cast<unsigned>(c));
  } else if (c < 0x10000) {
    std::snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned>(c));
  } else {
    std::snprintf(buf, sizeof buf, "\\U%08x", static_cast<unsigned>(c));
  }
  out += buf;
}

bool is_printable(char32_t c) {
  if (c < 0x20 || c == 0x7F) return false;
  if (c >= 0x80 && c <= 0xA0) return false;
  if (c == 0xAD || c == 0x1680 || c == 0x3000 || c == 0xFEFF) return false;
  if ((c >= 0x2000 && c <= 0x200F) || (c >= 0x2028 && c <= 0x202F)) return false;
  if (c >= 0x205F && c <= 0x2064) return false;
  return !(c >= 0xD800 && c <= 0xDFFF);
}

std::string string_repr(const std::string& s) {
  bool has_single = s.find('\'') != std::string::npos;
  bool has_double = s.find('"') != std::string::npos;
  char quote = has_single && !has_double ? '"' : '\'';
  std::string out(1, quote);
  for (char32_t c : text::decode(s)) {
    if (c == '\\' || c == static_cast<char32_t>(quote)) {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c == '\t') {
      out += "\\t";
    } else if (!is_printable(c)) {
      append_escaped_cp(out, c);
    } else {
      text::append_utf8(out, c);
    }
  }
  out += quote;
  return out;
}

std::string repr_at(const Value& v, int depth);

std::string sequence_repr(const ListData& l, int depth) {
  std::string out = l.tuple ? "(" : "[";
  for (size_t i = 0; i < l.items.size(); ++i) {
    if (i) out += ", ";
    out += repr_at(l.items[i], depth + 1);
  }
  if (l.tuple && l.items.size() == 1) out += ",";
  out += l.tuple ? ")" : "]";
  return out;
}

std::string dict_repr(const DictData& d, int depth) {
  std::string out = "{";
  bool first = true;
  for (const auto& [k, v] : d.entries()) {
    if (!first) out += ", ";
    first = false;
    out += repr_at(k, depth + 1) + ": " + repr_at(v, depth + 1);
  }
  return out + "}";
}

std::string repr_at(const Value& v, int depth) {
  if (depth > kMaxValueDepth) eval_fail("value nested too deeply to print");
  switch (v.kind()) {
    case Value::Kind::Undefined: return "Undefined";
    case Value::Kind::String: return string_repr(v.str());
    case Value::Kind::List: return sequence_repr(v.list(), depth);
    case Value::Kind::Dict: return dict_repr(v.dict(), depth);
    case Value::Kind::Namespace: return "<Namespace " + dict_repr(v.ns().attrs, depth) + ">";
    default: return to_str(v);
  }
}

}  // namespace

bool equals(const Value& a, const Value& b) { return equals_at(a, b, 0); }
int compare(const Value& a, const Value& b) { return compare_at(a, b, 0); }

std::string type_name(const Value& v) {
  switch (v.kind()) {
    case Value::Kind::Undefined: return "Undefined";
    case Value::Kind::None: return "NoneType";
    case Value::Kind::Bool: return "bool";
    case Value::Kind::Int: return "int";
    case Value::Kind::Float: return "float";
    case Value::Kind::String: return "str";
    case Value::Kind::List: return v.list().tuple ? "tuple" : "list";
    case Value::Kind::Dict: return "dict";
    case Value::Kind::Callable: return v.callable().method.empty() ? "function" : "builtin_function_or_method";
    case Value::Kind::Namespace: return "Namespace";
  }
  return "object";
}

std::string float_repr(double d) {
  if (std::isnan(d)) return "nan";
  if (std::isinf(d)) return d > 0 ? "inf" : "-inf";
  char buf[64];
  auto res = std::to_chars(buf, buf + sizeof buf, d, std::chars_format::scientific);
  std::string s(buf, res.ptr);
  std::string sign;
  if (s[0] == '-') {
    sign = "-";
    s.erase(0, 1);
  }
  size_t e = s.find('e');
  int exp = std::stoi(s.substr(e + 1));
  std::string digits = s.substr(0, e);
  if (digits.size() > 1) digits.erase(1, 1);  // drop the '.'
  if (exp >= -4 && exp < 16) {
    if (exp < 0) return sign + "0." + std::string(static_cast<size_t>(-exp - 1), '0') + digits;
    size_t int_len = static_cast<size_t>(exp) + 1;
    if (digits.size() <= int_len) return sign + digits + std::string(int_len - digits.size(), '0') + ".0";
    return sign + digits.substr(0, int_len) + "." + digits.substr(int_len);
  }
  std::string mant = digits.size() > 1 ? digits.substr(0, 1) + "." + digits.substr(1) : digits;
  char ebuf[16];
  std::snprintf(ebuf, sizeof ebuf, "e%c%02d", exp < 0 ? '-' : '+', exp < 0 ? -exp : exp);
  return sign + mant + ebuf;
}

std::string to_str(const Value& v) {
  switch (v.kind()) {
    case Value::Kind::Undefined: return "";
    case Value::Kind::None: return "None";
    case Value::Kind::Bool: return v.get_bool() ? "True" : "False";
    case Value::Kind::Int: return std::to_string(v.get_int());
    case Value::Kind::Float: return float_repr(v.get_float());
    case Value::Kind::String: return v.str();
    case Value::Kind::Callable: return "<function " + v.callable().name + ">";
    default: return repr_at(v, 0);
  }
}

std::string repr(const Value& v) { return repr_at(v, 0); }

std::vector<Value> iterate(const Value& v) {
  switch (v.kind()) {
    case Value::Kind::Undefined: return {};
    case Value::Kind::List: return v.list().items;
    case Value::Kind::Dict: {
      std::vector<Value> keys;
      keys.reserve(v.dict().size());
      for (const auto& e : v.dict().entries()) keys.push_back(e.first);
      return keys;
    }
    case Value::Kind::String: {
      if (v.str().size() > kMaxListItems && text::count(v.str()) > kMaxListItems) {
        eval_fail("string too long to iterate (over ", kMaxListItems, " characters)");
      }
      std::vector<Value> chars;
      for (char32_t c : text::decode(v.str())) chars.emplace_back(text::encode(std::u32string(1, c)));
      return chars;
    }
    default: eval_fail("'", type_name(v), "' object is not iterable");
  }
}

int64_t length(const Value& v) {
  switch (v.kind()) {
    case Value::Kind::Undefined: return 0;
    case Value::Kind::String: return static_cast<int64_t>(text::count(v.str()));
    case Value::Kind::List: return static_cast<int64_t>(v.list().items.size());
    case Value::Kind::Dict: return static_cast<int64_t>(v.dict().size());
    default: eval_fail("object of type '", type_name(v), "' has no len()");
  }
}

bool reaches(const Value& v, const void* target, int depth) {
  if (depth > kMaxValueDepth) eval_fail("value nested too deeply");
  if (!v.identity()) return false;
  if (v.identity() == target) return true;
  auto in_dict = [&](const DictData& d) {
    for (const auto& e : d.entries()) {
      if (reaches(e.second, target, depth + 1)) return true;
    }
    return false;
  };
  switch (v.kind()) {
    case Value::Kind::List:
      for (const auto& item : v.list().items) {
        if (reaches(item, target, depth + 1)) return true;
      }
      return false;
    case Value::Kind::Dict: return in_dict(v.dict());
    case Value::Kind::Namespace: return in_dict(v.ns().attrs);
    case Value::Kind::Callable: return reaches(v.callable().self, target, depth + 1);
    default: return false;
  }
}

void fail_undefined(const Value& v) {
  const std::string& hint = v.undefined_hint();
  eval_fail(hint.empty() ? std::string("undefined value") : hint);
}

}  // namespace dsinfer::jinja
