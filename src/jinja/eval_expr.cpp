// Evaluation of expression nodes.
#include "jinja/builtins.h"
#include "jinja/interp.h"

namespace dsinfer::jinja {

namespace {

Args eval_args(Interp& in, const std::vector<CallArg>& args) {
  Args out;
  for (const auto& a : args) {
    Value v = a.value->eval(in);
    if (a.name.empty()) {
      out.pos.push_back(std::move(v));
    } else {
      for (const auto& kw : out.kw) {
        if (kw.first == a.name) eval_fail("keyword argument repeated: ", a.name);
      }
      out.kw.emplace_back(a.name, std::move(v));
    }
  }
  return out;
}

bool hashable(const Value& v) {
  if (v.is_list()) {
    if (!v.list().tuple) return false;
    for (const auto& item : v.list().items) {
      if (!hashable(item)) return false;
    }
    return true;
  }
  return !(v.is_dict() || v.is_namespace());
}

}  // namespace

Value LiteralExpr::eval(Interp&) const { return value; }

Value NameExpr::eval(Interp& in) const { return in.lookup(name); }

Value ListExpr::eval(Interp& in) const {
  std::vector<Value> values;
  values.reserve(items.size());
  for (const auto& item : items) values.push_back(item->eval(in));
  return tuple ? Value::new_tuple(std::move(values)) : Value::new_list(std::move(values));
}

Value DictExpr::eval(Interp& in) const {
  Value d = Value::new_dict();
  for (const auto& [k, v] : items) {
    Value key = k->eval(in);
    in.line = line;
    if (!hashable(key)) eval_fail("unhashable type: '", type_name(key), "'");
    d.dict().set(key, v->eval(in));
  }
  return d;
}

Value AttrExpr::eval(Interp& in) const {
  Value o = obj->eval(in);
  in.line = line;
  return get_attr(o, name);
}

Value ItemExpr::eval(Interp& in) const {
  Value o = obj->eval(in);
  Value key = index->eval(in);
  in.line = line;
  return get_item(o, key);
}

Value SliceExpr::eval(Interp& in) const {
  Value o = obj->eval(in);
  Value parts[3];
  const ExprPtr* exprs[3] = {&start, &stop, &step};
  for (int i = 0; i < 3; ++i) {
    if (*exprs[i]) parts[i] = (*exprs[i])->eval(in);
  }
  in.line = line;
  return get_slice(o, start ? &parts[0] : nullptr, stop ? &parts[1] : nullptr, step ? &parts[2] : nullptr);
}

Value CallExpr::eval(Interp& in) const {
  // obj.method(...) calls the method directly, without a bound-method value.
  if (const auto* attr = dynamic_cast<const AttrExpr*>(callee.get())) {
    Value self = attr->obj->eval(in);
    in.line = attr->line;
    if (self.is_undefined()) fail_undefined(self);
    if (has_method(self, attr->name)) {
      Args a = eval_args(in, args);
      in.line = line;
      return call_method(in, self, attr->name, a);
    }
    Value fn = get_attr(self, attr->name);
    Args a = eval_args(in, args);
    in.line = line;
    return in.call(fn, a);
  }
  Value fn = callee->eval(in);
  Args a = eval_args(in, args);
  in.line = line;
  return in.call(fn, a);
}

Value FilterExpr::apply(Interp& in, const Value& input_value) const {
  Args a = eval_args(in, args);
  in.line = line;
  return fn(in, input_value, a);
}

Value FilterExpr::eval(Interp& in) const { return apply(in, input->eval(in)); }

Value TestExpr::eval(Interp& in) const {
  Value v = input->eval(in);
  Args a = eval_args(in, args);
  in.line = line;
  return Value(fn(in, v, a) != negated);
}

Value UnaryExpr::eval(Interp& in) const {
  Value v = operand->eval(in);
  in.line = line;
  return unary_op(op, v);
}

Value BinaryExpr::eval(Interp& in) const {
  Value l = left->eval(in);
  if (op == BinaryOp::And) return truthy(l) ? right->eval(in) : l;
  if (op == BinaryOp::Or) return truthy(l) ? l : right->eval(in);
  Value r = right->eval(in);
  in.line = line;
  return binary_op(op, l, r);
}

Value CompareExpr::eval(Interp& in) const {
  Value l = first->eval(in);
  for (const auto& [op, expr] : rest) {
    Value r = expr->eval(in);
    in.line = line;
    if (!compare_op(op, l, r)) return Value(false);
    l = std::move(r);
  }
  return Value(true);
}

Value CondExpr::eval(Interp& in) const {
  if (truthy(cond->eval(in))) return then->eval(in);
  if (otherwise) return otherwise->eval(in);
  return Value::undefined("the inline if-expression evaluated to false and no else section was defined");
}

}  // namespace dsinfer::jinja
