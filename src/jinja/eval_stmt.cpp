// Execution of statement nodes.
#include "jinja/interp.h"

namespace dsinfer::jinja {

namespace {

// The `loop` variable of iteration i.
Value make_loop(const std::vector<Value>& items, size_t i) {
  auto n = static_cast<int64_t>(items.size());
  auto k = static_cast<int64_t>(i);
  Value loop = Value::new_dict();
  DictData& d = loop.dict();
  d.set(Value("index"), Value(k + 1));
  d.set(Value("index0"), Value(k));
  d.set(Value("revindex"), Value(n - k));
  d.set(Value("revindex0"), Value(n - k - 1));
  d.set(Value("first"), Value(k == 0));
  d.set(Value("last"), Value(k == n - 1));
  d.set(Value("length"), Value(n));
  d.set(Value("depth"), Value(1));
  d.set(Value("depth0"), Value(0));
  if (i > 0) d.set(Value("previtem"), items[i - 1]);
  if (i + 1 < items.size()) d.set(Value("nextitem"), items[i + 1]);
  auto cycle = std::make_shared<Callable>();
  cycle->name = "loop.cycle";
  cycle->fn = [i](Interp&, const Args& a) -> Value {
    if (a.pos.empty()) eval_fail("no items for cycling given");
    return a.pos[i % a.pos.size()];
  };
  d.set(Value("cycle"), Value(std::move(cycle)));
  return loop;
}

}  // namespace

Flow TextStmt::exec(Interp& in) const {
  in.write(text);
  return Flow::Normal;
}

Flow OutputStmt::exec(Interp& in) const {
  in.line = line;
  Value v = expr->eval(in);
  in.write(to_str(v));
  return Flow::Normal;
}

Flow IfStmt::exec(Interp& in) const {
  for (const auto& [cond, body] : branches) {
    in.line = cond->line;
    if (truthy(cond->eval(in))) return in.exec_body(body);
  }
  return in.exec_body(else_body);
}

Flow ForStmt::exec(Interp& in) const {
  in.line = line;
  Value seq = iter->eval(in);
  in.line = line;
  std::vector<Value> items = iterate(seq);
  if (filter) {
    std::vector<Value> kept;
    for (auto& item : items) {
      in.tick();
      Interp::ScopeGuard scope(in);
      in.assign(target, item);
      if (truthy(filter->eval(in))) kept.push_back(std::move(item));
    }
    items = std::move(kept);
  }
  if (items.empty()) return in.exec_body(else_body);
  for (size_t i = 0; i < items.size(); ++i) {
    in.tick();
    Interp::ScopeGuard scope(in);
    in.line = line;
    in.assign(target, items[i]);
    in.set_local("loop", make_loop(items, i));
    if (in.exec_body(body) == Flow::Break) break;
  }
  return Flow::Normal;
}

Flow SetStmt::exec(Interp& in) const {
  in.line = line;
  Value v = value->eval(in);
  in.line = line;
  in.assign(target, std::move(v));
  return Flow::Normal;
}

Flow SetBlockStmt::exec(Interp& in) const {
  Flow flow = Flow::Normal;
  Value v(in.capture(body, &flow));
  for (const auto& f : filters) v = f->apply(in, v);
  in.line = line;
  in.assign(target, std::move(v));
  return flow;
}

Flow MacroStmt::exec(Interp& in) const {
  auto c = std::make_shared<Callable>();
  c->name = name;
  std::weak_ptr<Scope> closure = in.scope();
  c->fn = [this, closure](Interp& interp, const Args& args) { return interp.call_macro(*this, closure, args); };
  in.set_local(name, Value(std::move(c)));
  return Flow::Normal;
}

Flow FilterBlockStmt::exec(Interp& in) const {
  Flow flow = Flow::Normal;
  Value v(in.capture(body, &flow));
  for (const auto& f : filters) v = f->apply(in, v);
  in.write(to_str(v));
  return flow;
}

Flow WithStmt::exec(Interp& in) const {
  Interp::ScopeGuard scope(in);
  for (const auto& [target, expr] : assignments) {
    in.line = line;
    Value v = expr->eval(in);
    in.assign(target, std::move(v));
  }
  return in.exec_body(body);
}

}  // namespace dsinfer::jinja
