// Evaluation state of one render: variable scopes, the output buffer, the
// current template line (for error messages) and the resource limits that
// keep a hostile template from hanging or exhausting memory (internal header).
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "jinja/ast.h"
#include "jinja/value.h"

namespace dsinfer::jinja {

// Limits on one render.
inline constexpr size_t kMaxOutputBytes = size_t{64} << 20;  // all text written, captures included
inline constexpr int64_t kMaxIterations = 1'000'000;          // loop iterations, all loops together
inline constexpr int kMaxCallDepth = 100;                     // nested macro calls
inline constexpr int kMaxExecDepth = 400;                     // nested bodies, macros included

struct Scope {
  std::unordered_map<std::string, Value> vars;
  std::shared_ptr<Scope> parent;
};

class Interp {
 public:
  explicit Interp(std::shared_ptr<Scope> root);

  int line = 0;  // template line of the node being evaluated

  // Variable lookup through the scopes, then the builtin globals; an unknown
  // name is undefined.
  Value lookup(const std::string& name) const;
  // `set` semantics: names go into the innermost scope; `ns.attr` assigns a
  // namespace attribute.
  void assign(const Target& target, Value value);
  void set_local(const std::string& name, Value value);

  // Runs with a fresh child scope of `parent` (the current scope when null).
  class ScopeGuard {
   public:
    ScopeGuard(Interp& in, std::shared_ptr<Scope> parent = nullptr);
    ~ScopeGuard();
    ScopeGuard(const ScopeGuard&) = delete;
    ScopeGuard& operator=(const ScopeGuard&) = delete;

   private:
    Interp& in_;
    std::shared_ptr<Scope> saved_;
  };
  const std::shared_ptr<Scope>& scope() const { return scope_; }

  void write(std::string_view s);
  Flow exec_body(const Body& body);
  // Runs body writing into a separate buffer; returns that text.
  std::string capture(const Body& body, Flow* flow = nullptr);
  Value call(const Value& callee, const Args& args);
  Value call_macro(const MacroStmt& macro, const std::weak_ptr<Scope>& closure, const Args& args);
  // Counts one loop iteration against the budget.
  void tick();
  std::string take_output() { return std::move(out_); }

 private:
  std::shared_ptr<Scope> root_;
  std::shared_ptr<Scope> scope_;
  std::string out_;
  size_t written_ = 0;
  int64_t iterations_ = 0;
  int call_depth_ = 0;
  int exec_depth_ = 0;
};

// ---- operators (ops.cpp) ----

Value binary_op(BinaryOp op, const Value& a, const Value& b);
Value unary_op(UnaryOp op, const Value& v);
bool compare_op(CompareOp op, const Value& a, const Value& b);
bool contains(const Value& container, const Value& item);
// obj.name: methods first, then dict keys / namespace attributes.
Value get_attr(const Value& obj, const std::string& name);
// obj[key]: items first, then methods for string keys.
Value get_item(const Value& obj, const Value& key);
// obj[start:stop:step]; null parts take Python's defaults.
Value get_slice(const Value& obj, const Value* start, const Value* stop, const Value* step);
// Checks a string or list built by an operator against the size limits.
void check_size(const Value& v);
// Fails when s.replace(old, repl, count) would exceed kMaxStringBytes.
void check_replace_size(const std::string& s, const std::string& old, const std::string& repl, int64_t count);

}  // namespace dsinfer::jinja
