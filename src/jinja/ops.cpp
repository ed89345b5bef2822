// Python semantics of the operators, attribute and item access.
#include <algorithm>
#include <cmath>

#include "jinja/builtins.h"
#include "jinja/interp.h"
#include "jinja/text.h"

namespace dsinfer::jinja {

namespace {

const char* op_symbol(BinaryOp op) {
  switch (op) {
    case BinaryOp::Add: return "+";
    case BinaryOp::Sub: return "-";
    case BinaryOp::Mul: return "*";
    case BinaryOp::Div: return "/";
    case BinaryOp::FloorDiv: return "//";
    case BinaryOp::Mod: return "%";
    case BinaryOp::Pow: return "**";
    default: return "?";
  }
}

[[noreturn]] void unsupported(BinaryOp op, const Value& a, const Value& b) {
  if (op == BinaryOp::Add && (a.is_string() || a.is_list())) {
    eval_fail("can only concatenate ", type_name(a), " (not \"", type_name(b), "\") to ", type_name(a));
  }
  eval_fail("unsupported operand type(s) for ", op_symbol(op), ": '", type_name(a), "' and '", type_name(b), "'");
}

void check_overflow(bool overflow) {
  if (overflow) eval_fail("integer overflow");
}

Value int_pow(int64_t base, int64_t exp) {
  if (exp < 0) {
    if (base == 0) eval_fail("0.0 cannot be raised to a negative power");
    return Value(std::pow(static_cast<double>(base), static_cast<double>(exp)));
  }
  int64_t result = 1;
  while (exp > 0) {
    if (exp & 1) check_overflow(__builtin_mul_overflow(result, base, &result));
    exp >>= 1;
    if (exp > 0) check_overflow(__builtin_mul_overflow(base, base, &base));
  }
  return Value(result);
}

Value int_arith(BinaryOp op, int64_t x, int64_t y) {
  int64_t r = 0;
  switch (op) {
    case BinaryOp::Add: check_overflow(__builtin_add_overflow(x, y, &r)); return Value(r);
    case BinaryOp::Sub: check_overflow(__builtin_sub_overflow(x, y, &r)); return Value(r);
    case BinaryOp::Mul: check_overflow(__builtin_mul_overflow(x, y, &r)); return Value(r);
    case BinaryOp::Div:
      if (y == 0) eval_fail("division by zero");
      return Value(static_cast<double>(x) / static_cast<double>(y));
    case BinaryOp::FloorDiv:
    case BinaryOp::Mod: {
      if (y == 0) eval_fail("integer division or modulo by zero");
      if (x == INT64_MIN && y == -1) eval_fail("integer overflow");
      int64_t q = x / y, m = x % y;
      if (m != 0 && ((m < 0) != (y < 0))) {
        --q;
        m += y;
      }
      return Value(op == BinaryOp::FloorDiv ? q : m);
    }
    case BinaryOp::Pow: return int_pow(x, y);
    default: eval_fail("bad operator");
  }
}

Value float_arith(BinaryOp op, double x, double y) {
  switch (op) {
    case BinaryOp::Add: return Value(x + y);
    case BinaryOp::Sub: return Value(x - y);
    case BinaryOp::Mul: return Value(x * y);
    case BinaryOp::Div:
      if (y == 0) eval_fail("float division by zero");
      return Value(x / y);
    case BinaryOp::FloorDiv:
      if (y == 0) eval_fail("float floor division by zero");
      return Value(std::floor(x / y));
    case BinaryOp::Mod: {
      if (y == 0) eval_fail("float modulo");
      double m = std::fmod(x, y);
      if (m != 0 && ((m < 0) != (y < 0))) m += y;
      return Value(m);
    }
    case BinaryOp::Pow:
      if (x == 0 && y < 0) eval_fail("0.0 cannot be raised to a negative power");
      return Value(std::pow(x, y));
    default: eval_fail("bad operator");
  }
}

Value repeat(const Value& seq, int64_t n) {
  if (n < 0) n = 0;
  if (seq.is_string()) {
    if (!seq.str().empty() && static_cast<size_t>(n) > kMaxStringBytes / seq.str().size()) {
      eval_fail("string too long (over ", kMaxStringBytes, " bytes)");
    }
    std::string out;
    out.reserve(seq.str().size() * static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) out += seq.str();
    return Value(std::move(out));
  }
  const auto& items = seq.list().items;
  if (!items.empty() && static_cast<size_t>(n) > kMaxListItems / items.size()) eval_fail("list too long");
  std::vector<Value> out;
  for (int64_t i = 0; i < n; ++i) out.insert(out.end(), items.begin(), items.end());
  return seq.list().tuple ? Value::new_tuple(std::move(out)) : Value::new_list(std::move(out));
}

// Python's slice.indices(): normalized start for a sequence of length len.
int64_t slice_bound(const Value* v, int64_t len, int64_t step, bool is_start) {
  int64_t lower = step > 0 ? 0 : -1, upper = step > 0 ? len : len - 1;
  if (!v || v->is_none()) return (step > 0) == is_start ? lower : upper;
  int64_t i = v->to_int();
  if (i < 0) {
    i += len;
    if (i < lower) i = lower;
  } else if (i > upper) {
    i = upper;
  }
  return i;
}

bool is_index(const Value* v) { return !v || v->is_none() || v->is_int() || v->is_bool(); }

}  // namespace

void check_size(const Value& v) {
  if (v.is_string() && v.str().size() > kMaxStringBytes) eval_fail("string too long (over ", kMaxStringBytes, " bytes)");
  if (v.is_list() && v.list().items.size() > kMaxListItems) eval_fail("list too long");
}

void check_replace_size(const std::string& s, const std::string& old, const std::string& repl, int64_t count) {
  if (repl.size() <= old.size()) return;
  size_t hits = 0;
  if (old.empty()) {
    hits = text::count(s) + 1;
  } else {
    for (size_t p = s.find(old); p != std::string::npos; p = s.find(old, p + old.size())) ++hits;
  }
  if (count >= 0) hits = std::min(hits, static_cast<size_t>(count));
  if (hits > (kMaxStringBytes - std::min(s.size(), kMaxStringBytes)) / (repl.size() - old.size())) {
    eval_fail("string too long (over ", kMaxStringBytes, " bytes)");
  }
}

Value binary_op(BinaryOp op, const Value& a, const Value& b) {
  if (op == BinaryOp::Concat) {
    Value r(to_str(a) + to_str(b));
    check_size(r);
    return r;
  }
  if (a.is_undefined()) fail_undefined(a);
  if (b.is_undefined()) fail_undefined(b);
  if (a.is_number() && b.is_number()) {
    if (a.is_float() || b.is_float()) return float_arith(op, a.to_double(), b.to_double());
    return int_arith(op, a.to_int(), b.to_int());
  }
  if (op == BinaryOp::Add && a.is_string() && b.is_string()) {
    Value r(a.str() + b.str());
    check_size(r);
    return r;
  }
  if (op == BinaryOp::Add && a.is_list() && b.is_list() && a.list().tuple == b.list().tuple) {
    std::vector<Value> items = a.list().items;
    items.insert(items.end(), b.list().items.begin(), b.list().items.end());
    Value r = a.list().tuple ? Value::new_tuple(std::move(items)) : Value::new_list(std::move(items));
    check_size(r);
    return r;
  }
  if (op == BinaryOp::Mul && (a.is_string() || a.is_list()) && (b.is_int() || b.is_bool())) return repeat(a, b.to_int());
  if (op == BinaryOp::Mul && (b.is_string() || b.is_list()) && (a.is_int() || a.is_bool())) return repeat(b, a.to_int());
  if (op == BinaryOp::Mod && a.is_string()) eval_fail("string formatting with '%' is not supported");
  unsupported(op, a, b);
}

Value unary_op(UnaryOp op, const Value& v) {
  if (op == UnaryOp::Not) return Value(!truthy(v));
  if (v.is_undefined()) fail_undefined(v);
  if (v.is_float()) return Value(op == UnaryOp::Neg ? -v.get_float() : v.get_float());
  if (v.is_int() || v.is_bool()) {
    int64_t i = v.to_int();
    if (op == UnaryOp::Pos) return Value(i);
    if (i == INT64_MIN) eval_fail("integer overflow");
    return Value(-i);
  }
  eval_fail("bad operand type for unary ", op == UnaryOp::Neg ? "-" : "+", ": '", type_name(v), "'");
}

bool contains(const Value& container, const Value& item) {
  switch (container.kind()) {
    case Value::Kind::Undefined: return false;
    case Value::Kind::String:
      if (!item.is_string()) eval_fail("'in <string>' requires string as left operand, not ", type_name(item));
      return container.str().find(item.str()) != std::string::npos;
    case Value::Kind::List:
      for (const auto& x : container.list().items) {
        if (equals(x, item)) return true;
      }
      return false;
    case Value::Kind::Dict: return container.dict().find(item) != nullptr;
    default: eval_fail("argument of type '", type_name(container), "' is not iterable");
  }
}

bool compare_op(CompareOp op, const Value& a, const Value& b) {
  switch (op) {
    case CompareOp::Eq: return equals(a, b);
    case CompareOp::Ne: return !equals(a, b);
    case CompareOp::Lt: return compare(a, b) < 0;
    case CompareOp::Le: return compare(a, b) <= 0;
    case CompareOp::Gt: return compare(a, b) > 0;
    case CompareOp::Ge: return compare(a, b) >= 0;
    case CompareOp::In: return contains(b, a);
    case CompareOp::NotIn: return !contains(b, a);
  }
  return false;
}

namespace {

// Jinja's object_type_repr, used in undefined hints.
std::string object_desc(const Value& v) {
  if (v.is_none()) return "None";
  return type_name(v) + " object";
}

Value bound_method(const Value& obj, const std::string& name) {
  auto c = std::make_shared<Callable>();
  c->name = type_name(obj) + "." + name;
  c->self = obj;
  c->method = name;
  return Value(std::move(c));
}

}  // namespace

Value get_attr(const Value& obj, const std::string& name) {
  if (obj.is_undefined()) fail_undefined(obj);
  if (has_method(obj, name)) return bound_method(obj, name);
  const Value* found = nullptr;
  if (obj.is_dict()) found = obj.dict().find(std::string_view(name));
  if (obj.is_namespace()) found = obj.ns().attrs.find(std::string_view(name));
  if (found) return *found;
  return Value::undefined(cat("'", object_desc(obj), "' has no attribute '", name, "'"));
}

Value get_item(const Value& obj, const Value& key) {
  if (obj.is_undefined()) fail_undefined(obj);
  if (obj.is_dict()) {
    if (const Value* found = obj.dict().find(key)) return *found;
  } else if (obj.is_namespace() && key.is_string()) {
    if (const Value* found = obj.ns().attrs.find(std::string_view(key.str()))) return *found;
  } else if ((obj.is_list() || obj.is_string()) && (key.is_int() || key.is_bool())) {
    int64_t len = length(obj);
    int64_t i = key.to_int();
    if (i < 0) i += len;
    if (i >= 0 && i < len) {
      if (obj.is_list()) return obj.list().items[static_cast<size_t>(i)];
      std::u32string cps = text::decode(obj.str());
      return Value(text::encode(cps.substr(static_cast<size_t>(i), 1)));
    }
  }
  if (key.is_string() && has_method(obj, key.str())) return bound_method(obj, key.str());
  if (key.is_string()) return Value::undefined(cat("'", object_desc(obj), "' has no attribute '", key.str(), "'"));
  return Value::undefined(cat("'", object_desc(obj), "' has no element ", repr(key)));
}

Value get_slice(const Value& obj, const Value* start, const Value* stop, const Value* step) {
  if (obj.is_undefined()) fail_undefined(obj);
  if (!(obj.is_list() || obj.is_string()) || !is_index(start) || !is_index(stop) || !is_index(step)) {
    return Value::undefined(cat("'", object_desc(obj), "' cannot be sliced"));
  }
  int64_t st = step && !step->is_none() ? step->to_int() : 1;
  if (st == 0) eval_fail("slice step cannot be zero");
  int64_t len = length(obj);
  int64_t b = slice_bound(start, len, st, true), e = slice_bound(stop, len, st, false);
  std::vector<size_t> idx;
  for (int64_t i = b; st > 0 ? i < e : i > e;) {
    idx.push_back(static_cast<size_t>(i));
    if (__builtin_add_overflow(i, st, &i)) break;
  }
  if (obj.is_string()) {
    std::u32string cps = text::decode(obj.str()), out;
    for (size_t i : idx) out.push_back(cps[i]);
    return Value(text::encode(out));
  }
  std::vector<Value> items;
  for (size_t i : idx) items.push_back(obj.list().items[i]);
  return obj.list().tuple ? Value::new_tuple(std::move(items)) : Value::new_list(std::move(items));
}

}  // namespace dsinfer::jinja
