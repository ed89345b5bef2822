// The dynamic value the template interpreter works on: Python's object model
// cut down to what chat templates use (internal header).
//
// Lists, dicts and namespaces are shared by reference like Python objects, so
// `ns.items.append(x)` is seen by every holder. Strings are UTF-8; operations
// that Python defines on code points (len, indexing, slicing) decode them.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <variant>
#include <vector>

#include "core/error.h"

namespace dsinfer::jinja {

class Value;
class Interp;

// Raised while evaluating; the interpreter prefixes the template line. It is
// deliberately not a dsinfer::Error, so a located error is never wrapped twice.
class EvalError : public std::runtime_error {
 public:
  explicit EvalError(const std::string& msg) : std::runtime_error(msg) {}
};

template <typename... A>
[[noreturn]] void eval_fail(A&&... a) {
  throw EvalError(cat(std::forward<A>(a)...));
}

// Arguments of one call: positional values, then name=value pairs.
struct Args {
  std::vector<Value> pos;
  std::vector<std::pair<std::string, Value>> kw;
};

struct ListData;
class DictData;
struct Callable;
struct NamespaceData;
using ListPtr = std::shared_ptr<ListData>;
using DictPtr = std::shared_ptr<DictData>;
using CallablePtr = std::shared_ptr<Callable>;
using NamespacePtr = std::shared_ptr<NamespaceData>;

class Value {
 public:
  // Same order as the variant alternatives below.
  enum class Kind : uint8_t { Undefined, None, Bool, Int, Float, String, List, Dict, Callable, Namespace };

  Value() = default;  // undefined
  Value(bool b) : v_(b) {}
  Value(int i) : v_(int64_t{i}) {}
  Value(long i) : v_(int64_t{i}) {}
  Value(long long i) : v_(int64_t{i}) {}
  Value(double d) : v_(d) {}
  Value(std::string s) : v_(std::move(s)) {}
  Value(std::string_view s) : v_(std::string(s)) {}
  Value(const char* s) : v_(std::string(s)) {}
  Value(ListPtr l) : v_(std::move(l)) {}
  Value(DictPtr d) : v_(std::move(d)) {}
  Value(CallablePtr c) : v_(std::move(c)) {}
  Value(NamespacePtr n) : v_(std::move(n)) {}

  // An undefined value; hint is the message used when it is misused
  // ("'x' is undefined", "'dict object' has no attribute 'y'").
  static Value undefined(std::string hint);
  static Value none() { return Value(None{}); }
  static Value new_list(std::vector<Value> items = {});
  static Value new_tuple(std::vector<Value> items);
  static Value new_dict();

  Kind kind() const { return static_cast<Kind>(v_.index()); }
  bool is_undefined() const { return kind() == Kind::Undefined; }
  bool is_none() const { return kind() == Kind::None; }
  bool is_bool() const { return kind() == Kind::Bool; }
  bool is_int() const { return kind() == Kind::Int; }
  bool is_float() const { return kind() == Kind::Float; }
  bool is_number() const { return is_int() || is_float() || is_bool(); }  // bool is a Python int
  bool is_string() const { return kind() == Kind::String; }
  bool is_list() const { return kind() == Kind::List; }  // list or tuple
  bool is_dict() const { return kind() == Kind::Dict; }
  bool is_callable() const { return kind() == Kind::Callable; }
  bool is_namespace() const { return kind() == Kind::Namespace; }

  bool get_bool() const { return std::get<bool>(v_); }
  int64_t get_int() const { return std::get<int64_t>(v_); }
  double get_float() const { return std::get<double>(v_); }
  const std::string& str() const { return std::get<std::string>(v_); }
  ListData& list() const { return *std::get<ListPtr>(v_); }
  DictData& dict() const { return *std::get<DictPtr>(v_); }
  Callable& callable() const { return *std::get<CallablePtr>(v_); }
  NamespaceData& ns() const { return *std::get<NamespacePtr>(v_); }
  const std::string& undefined_hint() const { return std::get<Undef>(v_).hint; }
  // Identity of a shared object (list, dict, callable, namespace); null otherwise.
  const void* identity() const;

  // Integer value of an int or bool; number as double for int, bool, float.
  int64_t to_int() const { return is_bool() ? int64_t{get_bool()} : get_int(); }
  double to_double() const;

 private:
  struct Undef {
    std::string hint;
  };
  struct None {};
  explicit Value(None n) : v_(n) {}
  std::variant<Undef, None, bool, int64_t, double, std::string, ListPtr, DictPtr, CallablePtr,
               NamespacePtr>
      v_;
};

// A list or, with tuple set, a tuple (printed with parentheses).
struct ListData {
  std::vector<Value> items;
  bool tuple = false;
  ListData() = default;
  ListData(const ListData&) = delete;
  ListData& operator=(const ListData&) = delete;
  ~ListData();
};

// An insertion-ordered dict. Small dicts are searched linearly; larger ones
// index their string keys. Other keys are found by Python equality.
class DictData {
 public:
  DictData() = default;
  DictData(const DictData&) = delete;
  DictData& operator=(const DictData&) = delete;
  ~DictData();

  const Value* find(std::string_view key) const;
  const Value* find(const Value& key) const;
  void set(const Value& key, Value value);
  // Replaces the value of the i-th entry.
  void set_at(size_t i, Value value) { entries_.at(i).second = std::move(value); }
  size_t size() const { return entries_.size(); }
  const std::vector<std::pair<Value, Value>>& entries() const { return entries_; }

 private:
  static constexpr size_t kLinearScanMax = 12;
  std::vector<std::pair<Value, Value>> entries_;
  std::unordered_map<std::string, size_t> string_index_;
};

// A function value: a builtin (raise_exception, range, ...), a macro, or a
// method bound to `self` (then `method` names it and fn is empty).
struct Callable {
  std::string name;
  std::function<Value(Interp&, const Args&)> fn;
  Value self;
  std::string method;
};

// namespace(): the one object whose attributes a template may assign.
struct NamespaceData {
  DictData attrs;
};

// ---- Python semantics (value.cpp) ----

// Limits: nesting for recursive operations (printing, equality, JSON), the
// size of any one string, the items of any one list a template builds.
inline constexpr int kMaxValueDepth = 256;
inline constexpr size_t kMaxStringBytes = size_t{64} << 20;
inline constexpr size_t kMaxListItems = size_t{1} << 20;

bool truthy(const Value& v);
bool equals(const Value& a, const Value& b);
// <0, 0, >0 like Python's ordering; throws EvalError for unorderable types.
int compare(const Value& a, const Value& b);
// Python's type name: 'str', 'int', 'dict', 'NoneType', ...
std::string type_name(const Value& v);
// str(v); undefined prints as "".
std::string to_str(const Value& v);
// repr(v).
std::string repr(const Value& v);
// Python repr of a float ('1.0', '1e+16', '0.30000000000000004').
std::string float_repr(double d);
// Items of an iterable (list items, dict keys, string characters); an
// undefined value iterates as empty. Throws for other types.
std::vector<Value> iterate(const Value& v);
// len(v); an undefined value has length 0. Throws for other types.
int64_t length(const Value& v);
// Whether `target` (an identity()) can be reached from inside v: used to
// refuse appends that would make a container contain itself.
bool reaches(const Value& v, const void* target, int depth = 0);
// Throws the "'x' is undefined" error an undefined value carries.
[[noreturn]] void fail_undefined(const Value& v);

}  // namespace dsinfer::jinja
