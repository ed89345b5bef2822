#include "jinja/json.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>

#include "jinja/text.h"

namespace dsinfer::jinja {

namespace {

template <typename Json>
Value convert(const Json& j, int depth) {
  if (depth > kMaxValueDepth) eval_fail("JSON value nested too deeply (over ", kMaxValueDepth, " levels)");
  switch (j.type()) {
    case nlohmann::json::value_t::null: return Value::none();
    case nlohmann::json::value_t::boolean: return Value(j.template get<bool>());
    case nlohmann::json::value_t::number_integer: return Value(j.template get<int64_t>());
    case nlohmann::json::value_t::number_unsigned: {
      auto u = j.template get<uint64_t>();
      if (u <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) return Value(static_cast<int64_t>(u));
      return Value(static_cast<double>(u));
    }
    case nlohmann::json::value_t::number_float: return Value(j.template get<double>());
    case nlohmann::json::value_t::string: return Value(j.template get_ref<const std::string&>());
    case nlohmann::json::value_t::array: {
      std::vector<Value> items;
      items.reserve(j.size());
      for (const auto& item : j) items.push_back(convert(item, depth + 1));
      return Value::new_list(std::move(items));
    }
    case nlohmann::json::value_t::object: {
      Value d = Value::new_dict();
      for (auto it = j.begin(); it != j.end(); ++it) d.dict().set(Value(it.key()), convert(it.value(), depth + 1));
      return d;
    }
    default: eval_fail("unsupported JSON value (binary)");
  }
}

void append_u_escape(std::string& out, unsigned cp) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "\\u%04x", cp);
  out += buf;
}

void append_json_string(std::string& out, const std::string& s, bool ensure_ascii) {
  out += '"';
  for (char32_t c : text::decode(s)) {
    switch (c) {
      case '"': out += "\\\""; continue;
      case '\\': out += "\\\\"; continue;
      case '\n': out += "\\n"; continue;
      case '\r': out += "\\r"; continue;
      case '\t': out += "\\t"; continue;
      case '\b': out += "\\b"; continue;
      case '\f': out += "\\f"; continue;
      default: break;
    }
    if (c < 0x20 || (ensure_ascii && c >= 0x7F && c < 0x10000)) {
      append_u_escape(out, static_cast<unsigned>(c));
    } else if (ensure_ascii && c >= 0x10000) {
      unsigned v = static_cast<unsigned>(c) - 0x10000;
      append_u_escape(out, 0xD800 + (v >> 10));
      append_u_escape(out, 0xDC00 + (v & 0x3FF));
    } else {
      text::append_utf8(out, c);
    }
  }
  out += '"';
}

std::string float_json(double d) {
  if (std::isnan(d)) return "NaN";
  if (std::isinf(d)) return d > 0 ? "Infinity" : "-Infinity";
  return float_repr(d);
}

class Writer {
 public:
  explicit Writer(const JsonOptions& opt) : opt_(opt) {}
  void write(const Value& v, int depth);
  std::string out;

 private:
  void newline(int level);
  void write_list(const ListData& l, int depth);
  void write_dict(const DictData& d, int depth);
  std::string key_string(const Value& k) const;
  const JsonOptions& opt_;
};

void Writer::newline(int level) {
  if (out.size() > kMaxStringBytes) eval_fail("tojson output too long (over ", kMaxStringBytes, " bytes)");
  if (!opt_.indent) return;
  out += '\n';
  for (int i = 0; i < level; ++i) out += *opt_.indent;
}

void Writer::write(const Value& v, int depth) {
  if (depth > kMaxValueDepth) eval_fail("value nested too deeply for tojson");
  switch (v.kind()) {
    case Value::Kind::None: out += "null"; return;
    case Value::Kind::Bool: out += v.get_bool() ? "true" : "false"; return;
    case Value::Kind::Int: out += std::to_string(v.get_int()); return;
    case Value::Kind::Float: out += float_json(v.get_float()); return;
    case Value::Kind::String: append_json_string(out, v.str(), opt_.ensure_ascii); return;
    case Value::Kind::List: write_list(v.list(), depth); return;
    case Value::Kind::Dict: write_dict(v.dict(), depth); return;
    default: eval_fail("Object of type ", type_name(v), " is not JSON serializable");
  }
}

void Writer::write_list(const ListData& l, int depth) {
  if (l.items.empty()) {
    out += "[]";
    return;
  }
  out += '[';
  for (size_t i = 0; i < l.items.size(); ++i) {
    if (i) out += opt_.item_sep;
    newline(depth + 1);
    write(l.items[i], depth + 1);
  }
  newline(depth);
  out += ']';
}

std::string Writer::key_string(const Value& k) const {
  switch (k.kind()) {
    case Value::Kind::String: return k.str();
    case Value::Kind::Int: return std::to_string(k.get_int());
    case Value::Kind::Float: return float_json(k.get_float());
    case Value::Kind::Bool: return k.get_bool() ? "true" : "false";
    case Value::Kind::None: return "null";
    default: eval_fail("keys must be str, int, float, bool or None, not ", type_name(k));
  }
}

void Writer::write_dict(const DictData& d, int depth) {
  if (d.size() == 0) {
    out += "{}";
    return;
  }
  std::vector<const std::pair<Value, Value>*> entries;
  for (const auto& e : d.entries()) entries.push_back(&e);
  if (opt_.sort_keys) {
    std::stable_sort(entries.begin(), entries.end(),
                     [](const auto* a, const auto* b) { return compare(a->first, b->first) < 0; });
  }
  out += '{';
  for (size_t i = 0; i < entries.size(); ++i) {
    if (i) out += opt_.item_sep;
    newline(depth + 1);
    append_json_string(out, key_string(entries[i]->first), opt_.ensure_ascii);
    out += opt_.key_sep;
    write(entries[i]->second, depth + 1);
  }
  newline(depth);
  out += '}';
}

}  // namespace

Value from_json(const nlohmann::ordered_json& j) { return convert(j, 0); }
Value from_json(const nlohmann::json& j) { return convert(j, 0); }

std::string to_json(const Value& v, const JsonOptions& opt) {
  Writer w(opt);
  w.write(v, 0);
  return std::move(w.out);
}

}  // namespace dsinfer::jinja
