// Jinja tests (`x is defined`, `x is string`, ...) and the global functions.
#include <ctime>

#include "jinja/builtins.h"
#include "jinja/interp.h"
#include "jinja/text.h"

namespace dsinfer::jinja {

namespace {

// Checks the argument count of a test and returns its one argument, if any.
const Value* test_arg(const Args& a, const char* name, bool needs_arg) {
  size_t n = a.pos.size() + a.kw.size();
  if (n != (needs_arg ? 1u : 0u)) eval_fail("test '", name, "' takes ", needs_arg ? "one argument" : "no arguments");
  if (!needs_arg) return nullptr;
  return a.pos.empty() ? &a.kw[0].second : &a.pos[0];
}

#define SIMPLE_TEST(fname, tname, expr)                         \
  bool fname(Interp&, const Value& v, const Args& a) {          \
    test_arg(a, tname, false);                                  \
    return (expr);                                              \
  }

SIMPLE_TEST(t_defined, "defined", !v.is_undefined())
SIMPLE_TEST(t_undefined, "undefined", v.is_undefined())
SIMPLE_TEST(t_none, "none", v.is_none())
SIMPLE_TEST(t_boolean, "boolean", v.is_bool())
SIMPLE_TEST(t_false, "false", v.is_bool() && !v.get_bool())
SIMPLE_TEST(t_true, "true", v.is_bool() && v.get_bool())
SIMPLE_TEST(t_integer, "integer", v.is_int())
SIMPLE_TEST(t_float, "float", v.is_float())
SIMPLE_TEST(t_number, "number", v.is_number())
SIMPLE_TEST(t_string, "string", v.is_string())
SIMPLE_TEST(t_mapping, "mapping", v.is_dict())
SIMPLE_TEST(t_iterable, "iterable", v.is_undefined() || v.is_string() || v.is_list() || v.is_dict())
SIMPLE_TEST(t_sequence, "sequence", v.is_undefined() || v.is_string() || v.is_list() || v.is_dict())
SIMPLE_TEST(t_callable, "callable", v.is_callable())
SIMPLE_TEST(t_escaped, "escaped", ((void)v, false))
SIMPLE_TEST(t_lower, "lower", v.is_string() && text::lower(v.str()) == v.str() && text::upper(v.str()) != v.str())
SIMPLE_TEST(t_upper, "upper", v.is_string() && text::upper(v.str()) == v.str() && text::lower(v.str()) != v.str())
SIMPLE_TEST(t_filter, "filter", v.is_string() && find_filter(v.str()) != nullptr)
SIMPLE_TEST(t_test, "test", v.is_string() && find_test(v.str()) != nullptr)

#undef SIMPLE_TEST

int64_t int_operand(const Value& v, const char* test) {
  if (v.is_undefined()) fail_undefined(v);
  if (!v.is_int() && !v.is_bool()) eval_fail("test '", test, "' needs an integer, got ", type_name(v));
  return v.to_int();
}

bool t_odd(Interp&, const Value& v, const Args& a) {
  test_arg(a, "odd", false);
  return int_operand(v, "odd") % 2 != 0;
}

bool t_even(Interp&, const Value& v, const Args& a) {
  test_arg(a, "even", false);
  return int_operand(v, "even") % 2 == 0;
}

bool t_divisibleby(Interp&, const Value& v, const Args& a) {
  int64_t n = int_operand(*test_arg(a, "divisibleby", true), "divisibleby");
  if (n == 0) eval_fail("integer division or modulo by zero");
  if (n == -1) return true;
  return int_operand(v, "divisibleby") % n == 0;
}

bool t_sameas(Interp&, const Value& v, const Args& a) {
  const Value& o = *test_arg(a, "sameas", true);
  if (v.identity() || o.identity()) return v.identity() == o.identity();
  return v.kind() == o.kind() && equals(v, o);
}

#define COMPARE_TEST(fname, tname, op)                      \
  bool fname(Interp&, const Value& v, const Args& a) {      \
    return compare_op(CompareOp::op, v, *test_arg(a, tname, true)); \
  }

COMPARE_TEST(t_eq, "eq", Eq)
COMPARE_TEST(t_ne, "ne", Ne)
COMPARE_TEST(t_lt, "lt", Lt)
COMPARE_TEST(t_le, "le", Le)
COMPARE_TEST(t_gt, "gt", Gt)
COMPARE_TEST(t_ge, "ge", Ge)
COMPARE_TEST(t_in, "in", In)

#undef COMPARE_TEST

struct TestEntry {
  std::string_view name;
  TestFn fn;
};

const TestEntry kTests[] = {
    {"defined", t_defined},   {"undefined", t_undefined}, {"none", t_none},         {"boolean", t_boolean},
    {"false", t_false},       {"true", t_true},           {"integer", t_integer},   {"float", t_float},
    {"number", t_number},     {"string", t_string},       {"mapping", t_mapping},   {"iterable", t_iterable},
    {"sequence", t_sequence}, {"callable", t_callable},   {"escaped", t_escaped},   {"lower", t_lower},
    {"upper", t_upper},       {"filter", t_filter},       {"test", t_test},         {"odd", t_odd},
    {"even", t_even},         {"divisibleby", t_divisibleby}, {"sameas", t_sameas}, {"eq", t_eq},
    {"equalto", t_eq},        {"==", t_eq},               {"ne", t_ne},             {"!=", t_ne},
    {"lt", t_lt},             {"lessthan", t_lt},         {"<", t_lt},              {"le", t_le},
    {"<=", t_le},             {"gt", t_gt},               {"greaterthan", t_gt},    {">", t_gt},
    {"ge", t_ge},             {">=", t_ge},               {"in", t_in},
};

// ---- globals ----

Value g_raise_exception(Interp&, const Args& a) {
  BoundArgs b(a, "raise_exception", {"message"});
  eval_fail(b.get(0) ? to_str(*b.get(0)) : std::string("raise_exception() called"));
}

Value g_range(Interp& in, const Args& a) {
  if (!a.kw.empty() || a.pos.empty() || a.pos.size() > 3) eval_fail("range() takes 1 to 3 positional arguments");
  int64_t v[3] = {0, 0, 1};
  for (size_t i = 0; i < a.pos.size(); ++i) {
    if (!a.pos[i].is_int() && !a.pos[i].is_bool()) eval_fail("range(): '", type_name(a.pos[i]), "' is not an integer");
  }
  if (a.pos.size() == 1) {
    v[1] = a.pos[0].to_int();
  } else {
    for (size_t i = 0; i < a.pos.size(); ++i) v[i] = a.pos[i].to_int();
  }
  if (v[2] == 0) eval_fail("range() arg 3 must not be zero");
  std::vector<Value> out;
  for (int64_t i = v[0]; v[2] > 0 ? i < v[1] : i > v[1];) {
    if (out.size() >= 100000) eval_fail("range too big (over 100000 items)");
    in.tick();
    out.emplace_back(i);
    if (__builtin_add_overflow(i, v[2], &i)) break;
  }
  return Value::new_list(std::move(out));
}

void fill_from(DictData& d, const Args& a, const char* fname) {
  if (a.pos.size() > 1) eval_fail(fname, "() takes at most one positional argument");
  if (!a.pos.empty()) {
    if (!a.pos[0].is_dict()) eval_fail(fname, "(): expected a mapping, got ", type_name(a.pos[0]));
    for (const auto& [k, v] : a.pos[0].dict().entries()) d.set(k, v);
  }
  for (const auto& [k, v] : a.kw) d.set(Value(k), v);
}

Value g_namespace(Interp&, const Args& a) {
  auto ns = std::make_shared<NamespaceData>();
  fill_from(ns->attrs, a, "namespace");
  return Value(std::move(ns));
}

Value g_dict(Interp&, const Args& a) {
  Value d = Value::new_dict();
  fill_from(d.dict(), a, "dict");
  return d;
}

Value g_strftime_now(Interp&, const Args& a) {
  BoundArgs b(a, "strftime_now", {"format"});
  std::string fmt = to_str(b.required(0));
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  localtime_r(&t, &tm);
  char buf[512];
  size_t n = fmt.empty() ? 0 : std::strftime(buf, sizeof buf, fmt.c_str(), &tm);
  return Value(std::string(buf, n));
}

struct GlobalEntry {
  std::string_view name;
  Value (*fn)(Interp&, const Args&);
};

const GlobalEntry kGlobals[] = {
    {"raise_exception", g_raise_exception}, {"range", g_range}, {"namespace", g_namespace},
    {"dict", g_dict}, {"strftime_now", g_strftime_now},
};

}  // namespace

TestFn find_test(std::string_view name) {
  for (const auto& e : kTests) {
    if (e.name == name) return e.fn;
  }
  return nullptr;
}

Value find_global(std::string_view name) {
  for (const auto& e : kGlobals) {
    if (e.name != name) continue;
    auto c = std::make_shared<Callable>();
    c->name = std::string(name);
    c->fn = e.fn;
    return Value(std::move(c));
  }
  return Value::undefined(cat("'", name, "' is undefined"));
}

}  // namespace dsinfer::jinja
