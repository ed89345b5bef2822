#include "jinja/interp.h"

#include "jinja/builtins.h"

namespace dsinfer::jinja {

namespace {

// Increments a counter for the lifetime of the guard.
class CounterGuard {
 public:
  CounterGuard(int& counter, int limit, const char* what) : counter_(counter) {
    if (counter_ >= limit) eval_fail(what);
    ++counter_;
  }
  ~CounterGuard() { --counter_; }
  CounterGuard(const CounterGuard&) = delete;
  CounterGuard& operator=(const CounterGuard&) = delete;

 private:
  int& counter_;
};

}  // namespace

Interp::Interp(std::shared_ptr<Scope> root) : root_(std::move(root)), scope_(root_) {}

Interp::ScopeGuard::ScopeGuard(Interp& in, std::shared_ptr<Scope> parent) : in_(in), saved_(in.scope_) {
  auto s = std::make_shared<Scope>();
  s->parent = parent ? std::move(parent) : in.scope_;
  in.scope_ = std::move(s);
}

Interp::ScopeGuard::~ScopeGuard() { in_.scope_ = std::move(saved_); }

Value Interp::lookup(const std::string& name) const {
  for (const Scope* s = scope_.get(); s; s = s->parent.get()) {
    auto it = s->vars.find(name);
    if (it != s->vars.end()) return it->second;
  }
  Value g = find_global(name);
  if (!g.is_undefined()) return g;
  return Value::undefined(cat("'", name, "' is undefined"));
}

void Interp::set_local(const std::string& name, Value value) { scope_->vars[name] = std::move(value); }

void Interp::assign(const Target& target, Value value) {
  if (!target.attr.empty()) {
    Value ns = lookup(target.names[0]);
    if (!ns.is_namespace()) eval_fail("cannot assign attribute on non-namespace object");
    if (reaches(value, ns.identity())) eval_fail("cannot store a namespace inside itself");
    ns.ns().attrs.set(Value(target.attr), std::move(value));
    return;
  }
  if (!target.unpack) {
    set_local(target.names[0], std::move(value));
    return;
  }
  std::vector<Value> items = iterate(value);
  size_t want = target.names.size();
  if (items.size() > want) eval_fail("too many values to unpack (expected ", want, ")");
  if (items.size() < want) eval_fail("not enough values to unpack (expected ", want, ", got ", items.size(), ")");
  for (size_t i = 0; i < want; ++i) set_local(target.names[i], std::move(items[i]));
}

void Interp::write(std::string_view s) {
  written_ += s.size();
  if (written_ > kMaxOutputBytes) eval_fail("template output too large (over ", kMaxOutputBytes, " bytes)");
  out_.append(s);
}

Flow Interp::exec_body(const Body& body) {
  CounterGuard guard(exec_depth_, kMaxExecDepth, "template recursion too deep");
  for (const auto& stmt : body) {
    Flow f = stmt->exec(*this);
    if (f != Flow::Normal) return f;
  }
  return Flow::Normal;
}

std::string Interp::capture(const Body& body, Flow* flow) {
  std::string saved;
  saved.swap(out_);
  Flow f = exec_body(body);
  if (flow) *flow = f;
  saved.swap(out_);
  return saved;
}

Value Interp::call(const Value& callee, const Args& args) {
  if (callee.is_undefined()) fail_undefined(callee);
  if (!callee.is_callable()) eval_fail("'", type_name(callee), "' object is not callable");
  const Callable& c = callee.callable();
  if (!c.method.empty()) return call_method(*this, c.self, c.method, args);
  return c.fn(*this, args);
}

Value Interp::call_macro(const MacroStmt& macro, const std::weak_ptr<Scope>& closure, const Args& args) {
  CounterGuard guard(call_depth_, kMaxCallDepth, "maximum macro recursion depth exceeded");
  if (args.pos.size() > macro.params.size()) {
    eval_fail("macro '", macro.name, "' takes not more than ", macro.params.size(), " argument(s)");
  }
  for (const auto& [name, v] : args.kw) {
    bool known = false;
    for (size_t i = args.pos.size(); i < macro.params.size(); ++i) known = known || macro.params[i].name == name;
    if (!known) eval_fail("macro '", macro.name, "' got an unexpected keyword argument '", name, "'");
  }
  std::shared_ptr<Scope> parent = closure.lock();
  ScopeGuard scope(*this, parent ? parent : root_);
  for (size_t i = 0; i < macro.params.size(); ++i) {
    const MacroParam& p = macro.params[i];
    Value v = Value::undefined(cat("parameter '", p.name, "' was not provided"));
    if (i < args.pos.size()) {
      v = args.pos[i];
    } else {
      bool given = false;
      for (const auto& kw : args.kw) {
        if (kw.first == p.name) {
          v = kw.second;
          given = true;
        }
      }
      if (!given && p.default_value) v = p.default_value->eval(*this);
    }
    set_local(p.name, std::move(v));
  }
  return Value(capture(macro.body));
}

void Interp::tick() {
  if (++iterations_ > kMaxIterations) eval_fail("too many loop iterations (over ", kMaxIterations, ")");
}

}  // namespace dsinfer::jinja
