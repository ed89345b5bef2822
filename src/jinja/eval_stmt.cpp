// Execution of statement nodes.
#include "jinja/interp.h"

namespace dsinfer::jinja {

namespace {

// The `loop` variable. Like Jinja2's LoopContext it is one object for the
// whole loop, updated in place each iteration.
enum LoopKey : size_t { kIndex, kIndex0, kRevindex, kRevindex0, kFirst, kLast, kLength, kPrev, kNext, kKeyCount };

Value make_loop(size_t length, const std::shared_ptr<size_t>& current) {
  static const char* const kKeys[kKeyCount] = {"index", "index0", "revindex", "revindex0", "first",
                                                "last",  "length", "previtem", "nextitem"};
  Value loop = Value::new_dict();
  DictData& d = loop.dict();
  for (const char* k : kKeys) d.set(Value(k), Value());
  d.set_at(kLength, Value(static_cast<int64_t>(length)));
  d.set(Value("depth"), Value(1));
  d.set(Value("depth0"), Value(0));
  auto cycle = std::make_shared<Callable>();
  cycle->name = "loop.cycle";
  cycle->fn = [current](Interp&, const Args& a) -> Value {
    if (a.pos.empty()) eval_fail("no items for cycling given");
    return a.pos[*current % a.pos.size()];
  };
  d.set(Value("cycle"), Value(std::move(cycle)));
  return loop;
}

void update_loop(DictData& d, const std::vector<Value>& items, size_t i) {
  auto n = static_cast<int64_t>(items.size());
  auto k = static_cast<int64_t>(i);
  d.set_at(kIndex, Value(k + 1));
  d.set_at(kIndex0, Value(k));
  d.set_at(kRevindex, Value(n - k));
  d.set_at(kRevindex0, Value(n - k - 1));
  d.set_at(kFirst, Value(k == 0));
  d.set_at(kLast, Value(k == n - 1));
  d.set_at(kPrev, i > 0 ? items[i - 1] : Value::undefined("there is no previous item"));
  d.set_at(kNext, i + 1 < items.size() ? items[i + 1] : Value::undefined("there is no next item"));
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
    Interp::ScopeGuard scope(in);
    for (auto& item : items) {
      in.tick();
      in.scope()->vars.clear();
      in.assign(target, item);
      if (truthy(filter->eval(in))) kept.push_back(std::move(item));
    }
    items = std::move(kept);
  }
  if (items.empty()) return in.exec_body(else_body);
  auto current = std::make_shared<size_t>(0);
  Value loop = make_loop(items.size(), current);
  // One scope for the loop, emptied each iteration: what the body sets does
  // not outlive its iteration.
  Interp::ScopeGuard scope(in);
  for (size_t i = 0; i < items.size(); ++i) {
    in.tick();
    in.scope()->vars.clear();
    in.line = line;
    in.assign(target, items[i]);
    *current = i;
    update_loop(loop.dict(), items, i);
    in.set_local("loop", loop);
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
