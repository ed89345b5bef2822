// Argument binding and attribute paths shared by the builtins.
#include "jinja/builtins.h"
#include "jinja/interp.h"

namespace dsinfer::jinja {

BoundArgs::BoundArgs(const Args& args, std::string_view fname, std::initializer_list<std::string_view> params)
    : fname_(fname), params_(params), slots_(params.size(), nullptr) {
  if (args.pos.size() > params_.size()) {
    eval_fail(fname_, "() takes at most ", params_.size(), " argument(s) (", args.pos.size(), " given)");
  }
  for (size_t i = 0; i < args.pos.size(); ++i) slots_[i] = &args.pos[i];
  for (const auto& [name, value] : args.kw) {
    size_t i = 0;
    while (i < params_.size() && params_[i] != name) ++i;
    if (i == params_.size()) eval_fail(fname_, "() got an unexpected keyword argument '", name, "'");
    if (slots_[i]) eval_fail(fname_, "() got multiple values for argument '", name, "'");
    slots_[i] = &value;
  }
}

const Value& BoundArgs::required(size_t i) const {
  if (!slots_[i]) eval_fail(fname_, "() missing required argument '", params_[i], "'");
  return *slots_[i];
}

int64_t BoundArgs::int_or(size_t i, int64_t def) const {
  if (absent(i)) return def;
  const Value& v = *slots_[i];
  if (v.is_int() || v.is_bool()) return v.to_int();
  eval_fail(fname_, "(): argument '", params_[i], "' must be an integer, not ", type_name(v));
}

bool BoundArgs::bool_or(size_t i, bool def) const { return slots_[i] ? truthy(*slots_[i]) : def; }

const std::string* BoundArgs::str_or_null(size_t i) const {
  if (absent(i)) return nullptr;
  const Value& v = *slots_[i];
  if (!v.is_string()) eval_fail(fname_, "(): argument '", params_[i], "' must be a string, not ", type_name(v));
  return &v.str();
}

Value attribute_path(const Value& v, const std::string& path) {
  Value cur = v;
  size_t start = 0;
  while (true) {
    size_t dot = path.find('.', start);
    std::string part = path.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
    bool numeric = !part.empty() && part.size() < 18 && part.find_first_not_of("0123456789") == std::string::npos;
    cur = numeric ? get_item(cur, Value(static_cast<int64_t>(std::stoll(part)))) : get_item(cur, Value(part));
    if (dot == std::string::npos) return cur;
    start = dot + 1;
  }
}

}  // namespace dsinfer::jinja
