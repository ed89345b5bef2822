// The parsed template: expression and statement nodes. Each node evaluates
// itself against an Interp (eval_expr.cpp, eval_stmt.cpp) (internal header).
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "jinja/value.h"

namespace dsinfer::jinja {

using FilterFn = Value (*)(Interp&, const Value& input, const Args& args);
using TestFn = bool (*)(Interp&, const Value& input, const Args& args);

// ---- expressions ----

struct Expr {
  int line = 0;
  virtual ~Expr() = default;
  virtual Value eval(Interp& in) const = 0;
};
using ExprPtr = std::unique_ptr<Expr>;

struct CallArg {
  std::string name;  // empty for a positional argument
  ExprPtr value;
};

struct LiteralExpr : Expr {
  Value value;  // a scalar: none, bool, number or string
  Value eval(Interp& in) const override;
};

struct NameExpr : Expr {
  std::string name;
  Value eval(Interp& in) const override;
};

struct ListExpr : Expr {  // [a, b] or (a, b)
  std::vector<ExprPtr> items;
  bool tuple = false;
  Value eval(Interp& in) const override;
};

struct DictExpr : Expr {
  std::vector<std::pair<ExprPtr, ExprPtr>> items;
  Value eval(Interp& in) const override;
};

struct AttrExpr : Expr {  // obj.name
  ExprPtr obj;
  std::string name;
  Value eval(Interp& in) const override;
};

struct ItemExpr : Expr {  // obj[index]
  ExprPtr obj;
  ExprPtr index;
  Value eval(Interp& in) const override;
};

struct SliceExpr : Expr {  // obj[start:stop:step]; any part may be null
  ExprPtr obj, start, stop, step;
  Value eval(Interp& in) const override;
};

struct CallExpr : Expr {
  ExprPtr callee;
  std::vector<CallArg> args;
  Value eval(Interp& in) const override;
};

struct FilterExpr : Expr {  // input | name(args); input is null inside {% filter %} and block set
  ExprPtr input;
  std::string name;
  FilterFn fn = nullptr;
  std::vector<CallArg> args;
  Value eval(Interp& in) const override;
  Value apply(Interp& in, const Value& input_value) const;
};

struct TestExpr : Expr {  // input is [not] name(args)
  ExprPtr input;
  std::string name;
  TestFn fn = nullptr;
  std::vector<CallArg> args;
  bool negated = false;
  Value eval(Interp& in) const override;
};

enum class UnaryOp { Not, Neg, Pos };
struct UnaryExpr : Expr {
  UnaryOp op = UnaryOp::Not;
  ExprPtr operand;
  Value eval(Interp& in) const override;
};

enum class BinaryOp { Add, Sub, Mul, Div, FloorDiv, Mod, Pow, Concat, And, Or };
struct BinaryExpr : Expr {
  BinaryOp op = BinaryOp::Add;
  ExprPtr left, right;
  Value eval(Interp& in) const override;
};

enum class CompareOp { Eq, Ne, Lt, Le, Gt, Ge, In, NotIn };
struct CompareExpr : Expr {  // chained: a < b <= c
  ExprPtr first;
  std::vector<std::pair<CompareOp, ExprPtr>> rest;
  Value eval(Interp& in) const override;
};

struct CondExpr : Expr {  // then if cond else otherwise (otherwise may be null)
  ExprPtr cond, then, otherwise;
  Value eval(Interp& in) const override;
};

// ---- statements ----

enum class Flow { Normal, Break, Continue };

struct Stmt {
  int line = 0;
  virtual ~Stmt() = default;
  virtual Flow exec(Interp& in) const = 0;
};
using StmtPtr = std::unique_ptr<Stmt>;
using Body = std::vector<StmtPtr>;

struct TextStmt : Stmt {
  std::string text;
  Flow exec(Interp& in) const override;
};

struct OutputStmt : Stmt {  // {{ expr }}
  ExprPtr expr;
  Flow exec(Interp& in) const override;
};

struct IfStmt : Stmt {
  std::vector<std::pair<ExprPtr, Body>> branches;  // if, elif...
  Body else_body;
  Flow exec(Interp& in) const override;
};

// Assignment target: a name, names to unpack (a, b), or ns.attr.
struct Target {
  std::vector<std::string> names;
  bool unpack = false;
  std::string attr;  // set for `names[0].attr`
};

struct ForStmt : Stmt {
  Target target;
  ExprPtr iter;
  ExprPtr filter;  // `for x in xs if cond`
  Body body, else_body;
  Flow exec(Interp& in) const override;
};

struct SetStmt : Stmt {
  Target target;
  ExprPtr value;
  Flow exec(Interp& in) const override;
};

struct SetBlockStmt : Stmt {  // {% set x | filters %}...{% endset %}
  Target target;
  std::vector<std::unique_ptr<FilterExpr>> filters;
  Body body;
  Flow exec(Interp& in) const override;
};

struct MacroParam {
  std::string name;
  ExprPtr default_value;  // may be null
};

struct MacroStmt : Stmt {
  std::string name;
  std::vector<MacroParam> params;
  Body body;
  Flow exec(Interp& in) const override;
};

struct FilterBlockStmt : Stmt {  // {% filter upper %}...{% endfilter %}
  std::vector<std::unique_ptr<FilterExpr>> filters;
  Body body;
  Flow exec(Interp& in) const override;
};

struct WithStmt : Stmt {  // {% with a = 1 %}...{% endwith %}
  std::vector<std::pair<Target, ExprPtr>> assignments;
  Body body;
  Flow exec(Interp& in) const override;
};

struct LoopControlStmt : Stmt {  // {% break %} / {% continue %}
  Flow flow = Flow::Break;
  Flow exec(Interp&) const override { return flow; }
};

}  // namespace dsinfer::jinja
