// Filters on sequences and mappings, and the filter table.
#include <algorithm>

#include "jinja/builtins.h"
#include "jinja/interp.h"
#include "jinja/text.h"

namespace dsinfer::jinja {

namespace {

// The key a filter compares by: an attribute path, lowercased strings
// unless case sensitive.
Value sort_key(const Value& item, const std::string* attribute, bool case_sensitive) {
  Value k = attribute ? attribute_path(item, *attribute) : item;
  if (!case_sensitive && k.is_string()) return Value(text::lower(k.str()));
  return k;
}

Value f_length(Interp&, const Value& v, const Args& a) {
  BoundArgs b(a, "length", {});
  return Value(length(v));
}

Value f_first(Interp&, const Value& v, const Args& a) {
  BoundArgs b(a, "first", {});
  std::vector<Value> items = iterate(v);
  if (items.empty()) return Value::undefined("No first item, sequence was empty.");
  return items.front();
}

Value f_last(Interp&, const Value& v, const Args& a) {
  BoundArgs b(a, "last", {});
  std::vector<Value> items = iterate(v);
  if (items.empty()) return Value::undefined("No last item, sequence was empty.");
  return items.back();
}

Value f_list(Interp&, const Value& v, const Args& a) {
  BoundArgs b(a, "list", {});
  return Value::new_list(iterate(v));
}

Value f_join(Interp&, const Value& v, const Args& a) {
  BoundArgs b(a, "join", {"d", "attribute"});
  std::string sep = b.get(0) ? to_str(*b.get(0)) : "";
  const Value* attr = b.absent(1) ? nullptr : b.get(1);
  std::string out;
  bool first = true;
  for (const auto& item : iterate(v)) {
    if (!first) out += sep;
    first = false;
    out += to_str(attr ? attribute_path(item, to_str(*attr)) : item);
    if (out.size() > kMaxStringBytes) eval_fail("string too long (over ", kMaxStringBytes, " bytes)");
  }
  return Value(std::move(out));
}

Value f_reverse(Interp&, const Value& v, const Args& a) {
  BoundArgs b(a, "reverse", {});
  if (v.is_string()) {
    std::u32string cps = text::decode(v.str());
    std::reverse(cps.begin(), cps.end());
    return Value(text::encode(cps));
  }
  std::vector<Value> items = iterate(v);
  std::reverse(items.begin(), items.end());
  return Value::new_list(std::move(items));
}

Value f_sort(Interp&, const Value& v, const Args& a) {
  BoundArgs b(a, "sort", {"reverse", "case_sensitive", "attribute"});
  bool rev = b.bool_or(0, false), cs = b.bool_or(1, false);
  const std::string* attr = b.str_or_null(2);
  std::vector<Value> items = iterate(v);
  std::vector<std::pair<Value, size_t>> keyed;
  for (size_t i = 0; i < items.size(); ++i) keyed.emplace_back(sort_key(items[i], attr, cs), i);
  std::stable_sort(keyed.begin(), keyed.end(), [rev](const auto& x, const auto& y) {
    return rev ? compare(y.first, x.first) < 0 : compare(x.first, y.first) < 0;
  });
  std::vector<Value> out;
  for (const auto& k : keyed) out.push_back(items[k.second]);
  return Value::new_list(std::move(out));
}

Value f_unique(Interp&, const Value& v, const Args& a) {
  BoundArgs b(a, "unique", {"case_sensitive", "attribute"});
  bool cs = b.bool_or(0, false);
  const std::string* attr = b.str_or_null(1);
  std::vector<Value> out, seen;
  for (const auto& item : iterate(v)) {
    Value key = sort_key(item, attr, cs);
    if (std::any_of(seen.begin(), seen.end(), [&](const Value& s) { return equals(s, key); })) continue;
    seen.push_back(key);
    out.push_back(item);
  }
  return Value::new_list(std::move(out));
}

Value f_items(Interp&, const Value& v, const Args& a) {
  BoundArgs b(a, "items", {});
  if (v.is_undefined()) return Value::new_list();
  if (!v.is_dict()) eval_fail("Can only get item pairs from a mapping.");
  std::vector<Value> out;
  for (const auto& [k, val] : v.dict().entries()) out.push_back(Value::new_tuple({k, val}));
  return Value::new_list(std::move(out));
}

Value f_dictsort(Interp&, const Value& v, const Args& a) {
  BoundArgs b(a, "dictsort", {"case_sensitive", "by", "reverse"});
  if (!v.is_dict()) eval_fail("dictsort(): expected a mapping, got ", type_name(v));
  bool cs = b.bool_or(0, false), rev = b.bool_or(2, false);
  const std::string* by = b.str_or_null(1);
  size_t pos = 0;
  if (by && *by == "value") {
    pos = 1;
  } else if (by && *by != "key") {
    eval_fail("You can only sort by either 'key' or 'value'");
  }
  std::vector<std::pair<Value, Value>> entries = v.dict().entries();
  std::stable_sort(entries.begin(), entries.end(), [&](const auto& x, const auto& y) {
    Value kx = sort_key(pos ? x.second : x.first, nullptr, cs), ky = sort_key(pos ? y.second : y.first, nullptr, cs);
    return rev ? compare(ky, kx) < 0 : compare(kx, ky) < 0;
  });
  std::vector<Value> out;
  for (auto& e : entries) out.push_back(Value::new_tuple({e.first, e.second}));
  return Value::new_list(std::move(out));
}

// select / reject / selectattr / rejectattr.
Value select_impl(Interp& in, const Value& v, const Args& a, bool keep, bool by_attr, const char* fname) {
  size_t next = 0;
  std::string attr;
  if (by_attr) {
    if (a.pos.empty()) eval_fail(fname, "() missing the attribute name");
    attr = to_str(a.pos[next++]);
  }
  TestFn test = nullptr;
  Args test_args;
  test_args.kw = a.kw;
  if (next < a.pos.size()) {
    std::string name = to_str(a.pos[next++]);
    test = find_test(name);
    if (!test) eval_fail("no test named '", name, "'");
    test_args.pos.assign(a.pos.begin() + static_cast<std::ptrdiff_t>(next), a.pos.end());
  } else if (!a.kw.empty()) {
    eval_fail(fname, "() got keyword arguments but no test name");
  }
  std::vector<Value> out;
  for (const auto& item : iterate(v)) {
    Value x = by_attr ? attribute_path(item, attr) : item;
    bool ok = test ? test(in, x, test_args) : truthy(x);
    if (ok == keep) out.push_back(item);
  }
  return Value::new_list(std::move(out));
}

Value f_select(Interp& in, const Value& v, const Args& a) { return select_impl(in, v, a, true, false, "select"); }
Value f_reject(Interp& in, const Value& v, const Args& a) { return select_impl(in, v, a, false, false, "reject"); }
Value f_selectattr(Interp& in, const Value& v, const Args& a) {
  return select_impl(in, v, a, true, true, "selectattr");
}
Value f_rejectattr(Interp& in, const Value& v, const Args& a) {
  return select_impl(in, v, a, false, true, "rejectattr");
}

// map(attribute='x', default=...) or map('filter', args...).
Value f_map(Interp& in, const Value& v, const Args& a) {
  std::vector<Value> out;
  if (a.pos.empty()) {
    BoundArgs b(a, "map", {"attribute", "default"});
    std::string attr = to_str(b.required(0));
    for (const auto& item : iterate(v)) {
      Value x = attribute_path(item, attr);
      out.push_back(x.is_undefined() && b.get(1) ? *b.get(1) : x);
    }
    return Value::new_list(std::move(out));
  }
  std::string name = to_str(a.pos[0]);
  FilterFn f = find_filter(name);
  if (!f) eval_fail("no filter named '", name, "'");
  Args rest;
  rest.pos.assign(a.pos.begin() + 1, a.pos.end());
  rest.kw = a.kw;
  for (const auto& item : iterate(v)) out.push_back(f(in, item, rest));
  return Value::new_list(std::move(out));
}

Value f_sum(Interp&, const Value& v, const Args& a) {
  BoundArgs b(a, "sum", {"attribute", "start"});
  Value total = b.get(1) ? *b.get(1) : Value(0);
  const std::string* attr = b.str_or_null(0);
  for (const auto& item : iterate(v)) total = binary_op(BinaryOp::Add, total, attr ? attribute_path(item, *attr) : item);
  return total;
}

Value min_max(const Value& v, const Args& a, bool want_max) {
  BoundArgs b(a, want_max ? "max" : "min", {"case_sensitive", "attribute"});
  bool cs = b.bool_or(0, false);
  const std::string* attr = b.str_or_null(1);
  std::vector<Value> items = iterate(v);
  if (items.empty()) return Value::undefined("No aggregated item, sequence was empty.");
  size_t best = 0;
  Value best_key = sort_key(items[0], attr, cs);
  for (size_t i = 1; i < items.size(); ++i) {
    Value k = sort_key(items[i], attr, cs);
    int c = compare(k, best_key);
    if (want_max ? c > 0 : c < 0) {
      best = i;
      best_key = std::move(k);
    }
  }
  return items[best];
}

Value f_min(Interp&, const Value& v, const Args& a) { return min_max(v, a, false); }
Value f_max(Interp&, const Value& v, const Args& a) { return min_max(v, a, true); }

struct Entry {
  std::string_view name;
  FilterFn fn;
};

const Entry kSeqFilters[] = {
    {"length", f_length},   {"count", f_length},         {"first", f_first},     {"last", f_last},
    {"list", f_list},       {"join", f_join},            {"reverse", f_reverse}, {"sort", f_sort},
    {"unique", f_unique},   {"items", f_items},          {"dictsort", f_dictsort}, {"select", f_select},
    {"reject", f_reject},   {"selectattr", f_selectattr}, {"rejectattr", f_rejectattr}, {"map", f_map},
    {"sum", f_sum},         {"min", f_min},              {"max", f_max},
};

}  // namespace

FilterFn find_seq_filter(std::string_view name) {
  for (const auto& e : kSeqFilters) {
    if (e.name == name) return e.fn;
  }
  return nullptr;
}

FilterFn find_filter(std::string_view name) {
  FilterFn f = find_text_filter(name);
  return f ? f : find_seq_filter(name);
}

}  // namespace dsinfer::jinja
