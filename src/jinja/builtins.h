// Built-in filters, tests, global functions and methods of str/list/dict
// (internal header).
#pragma once

#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

#include "jinja/ast.h"
#include "jinja/value.h"

namespace dsinfer::jinja {

// Lookups by name; null when there is no such filter / test.
FilterFn find_filter(std::string_view name);
TestFn find_test(std::string_view name);
// A global function (range, namespace, dict, raise_exception, strftime_now)
// or an undefined value.
Value find_global(std::string_view name);

// Methods: `"a,b".split(",")`, `d.items()`, `ns.list.append(x)`, ...
bool has_method(const Value& self, std::string_view name);
Value call_method(Interp& in, const Value& self, std::string_view name, const Args& args);

// Binds a call's positional and keyword arguments to named parameters the
// way Python does, rejecting unknown and surplus arguments.
class BoundArgs {
 public:
  BoundArgs(const Args& args, std::string_view fname, std::initializer_list<std::string_view> params);

  // The argument for parameter i, or null when not given.
  const Value* get(size_t i) const { return slots_[i]; }
  // Not given or None.
  bool absent(size_t i) const { return !slots_[i] || slots_[i]->is_none(); }
  const Value& required(size_t i) const;
  int64_t int_or(size_t i, int64_t def) const;
  bool bool_or(size_t i, bool def) const;
  // Null when not given or None; throws when not a string.
  const std::string* str_or_null(size_t i) const;

 private:
  std::string fname_;
  std::vector<std::string_view> params_;
  std::vector<const Value*> slots_;
};

// Per-file tables behind find_filter (filters_text.cpp, filters_seq.cpp).
FilterFn find_text_filter(std::string_view name);
FilterFn find_seq_filter(std::string_view name);

// Resolves an attribute path such as "function.name" or "items.0" on v,
// the way selectattr/map/sort's attribute= do.
Value attribute_path(const Value& v, const std::string& path);

}  // namespace dsinfer::jinja
