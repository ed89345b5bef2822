// Expression grammar, mirroring jinja2.parser (precedence from loosest):
// conditional `a if c else b`, or, and, not, comparisons (chained, in,
// not in), + -, ~, * / // %, **, unary - +, then primary with postfix
// (.attr, [item], [a:b:c], call) and the filter / test chain.
#include <algorithm>

#include "jinja/builtins.h"
#include "jinja/parser.h"

namespace dsinfer::jinja {

// ---- TokenStream ----

bool TokenStream::is_op(std::string_view op, size_t ahead) const {
  const Token* t = peek(ahead);
  return t && t->type == Token::Type::Op && t->text == op;
}

bool TokenStream::is_name(std::string_view name, size_t ahead) const {
  const Token* t = peek(ahead);
  return t && t->type == Token::Type::Name && t->text == name;
}

bool TokenStream::skip_op(std::string_view op) {
  if (!is_op(op)) return false;
  ++i_;
  return true;
}

bool TokenStream::skip_name(std::string_view name) {
  if (!is_name(name)) return false;
  ++i_;
  return true;
}

const Token& TokenStream::next() {
  if (at_end()) error("unexpected end of expression");
  return toks_[i_++];
}

void TokenStream::expect_op(std::string_view op) {
  if (!skip_op(op)) error(cat("expected '", op, "', got ", describe_current()));
}

std::string TokenStream::expect_name() {
  const Token* t = peek();
  if (!t || t->type != Token::Type::Name) error(cat("expected a name, got ", describe_current()));
  ++i_;
  return t->text;
}

void TokenStream::expect_end() {
  if (!at_end()) error(cat("expected end of tag, got ", describe_current()));
}

int TokenStream::line() const {
  if (const Token* t = peek()) return t->line;
  return toks_.empty() ? line_ : toks_.back().line;
}

void TokenStream::error(const std::string& msg) const { fail("template line ", line(), ": ", msg); }

std::string TokenStream::describe_current() const {
  const Token* t = peek();
  if (!t) return "end of tag";
  if (t->type == Token::Type::String) return "a string";
  return "'" + t->text + (t->type == Token::Type::Int || t->type == Token::Type::Float ? "' (number)" : "'");
}

// ---- helpers ----

namespace {

constexpr int kMaxExprDepth = 100;

template <typename T>
std::unique_ptr<T> make(int line) {
  auto n = std::make_unique<T>();
  n->line = line;
  return n;
}

ExprPtr literal(Value v, int line) {
  auto n = make<LiteralExpr>(line);
  n->value = std::move(v);
  return n;
}

}  // namespace

struct DepthGuard {
  explicit DepthGuard(ExprParser& p) : p_(p) {
    if (++p_.depth_ > kMaxExprDepth) p_.ts_.error("expression nested too deeply");
  }
  ~DepthGuard() { --p_.depth_; }
  DepthGuard(const DepthGuard&) = delete;
  DepthGuard& operator=(const DepthGuard&) = delete;
  ExprParser& p_;
};

ExprPtr ExprParser::binary(BinaryOp op, ExprPtr left, ExprPtr right, int line) {
  auto n = make<BinaryExpr>(line);
  n->op = op;
  n->left = std::move(left);
  n->right = std::move(right);
  return n;
}

// ---- grammar ----

ExprPtr ExprParser::parse_expression(bool with_condexpr) {
  DepthGuard guard(*this);
  return with_condexpr ? parse_condexpr() : parse_binary(kOrLevel);
}

ExprPtr ExprParser::parse_tuple(bool with_condexpr, std::vector<std::string_view> end_names) {
  int line = ts_.line();
  std::vector<ExprPtr> items;
  bool is_tuple = false;
  auto at_tuple_end = [&] {
    if (ts_.at_end() || ts_.is_op(")")) return true;
    return std::any_of(end_names.begin(), end_names.end(), [&](auto n) { return ts_.is_name(n); });
  };
  while (true) {
    if (!items.empty()) ts_.expect_op(",");
    if (at_tuple_end()) break;
    items.push_back(parse_expression(with_condexpr));
    if (!ts_.is_op(",")) break;
    is_tuple = true;
  }
  if (!is_tuple && items.size() == 1) return std::move(items[0]);
  if (!is_tuple && items.empty()) ts_.error(cat("expected an expression, got ", ts_.describe_current()));
  auto n = make<ListExpr>(line);
  n->items = std::move(items);
  n->tuple = true;
  return n;
}

ExprPtr ExprParser::parse_condexpr() {
  int line = ts_.line();
  ExprPtr expr = parse_binary(kOrLevel);
  while (ts_.skip_name("if")) {
    auto n = make<CondExpr>(line);
    n->then = std::move(expr);
    n->cond = parse_binary(kOrLevel);
    if (ts_.skip_name("else")) n->otherwise = parse_condexpr();
    expr = std::move(n);
  }
  return expr;
}

ExprPtr ExprParser::parse_not() {
  if (!ts_.is_name("not")) return parse_compare();
  DepthGuard guard(*this);
  auto n = make<UnaryExpr>(ts_.next().line);
  n->op = UnaryOp::Not;
  n->operand = parse_not();
  return n;
}

ExprPtr ExprParser::parse_compare() {
  int line = ts_.line();
  ExprPtr expr = parse_binary(kArithLevel);
  static const std::pair<std::string_view, CompareOp> kOps[] = {
      {"==", CompareOp::Eq}, {"!=", CompareOp::Ne}, {"<", CompareOp::Lt},
      {"<=", CompareOp::Le}, {">", CompareOp::Gt},  {">=", CompareOp::Ge}};
  std::vector<std::pair<CompareOp, ExprPtr>> rest;
  while (true) {
    auto it = std::find_if(std::begin(kOps), std::end(kOps), [&](auto& p) { return ts_.is_op(p.first); });
    CompareOp op;
    if (it != std::end(kOps)) {
      ts_.next();
      op = it->second;
    } else if (ts_.skip_name("in")) {
      op = CompareOp::In;
    } else if (ts_.is_name("not") && ts_.is_name("in", 1)) {
      ts_.next();
      ts_.next();
      op = CompareOp::NotIn;
    } else {
      break;
    }
    rest.emplace_back(op, parse_binary(kArithLevel));
  }
  if (rest.empty()) return expr;
  auto n = make<CompareExpr>(line);
  n->first = std::move(expr);
  n->rest = std::move(rest);
  return n;
}

namespace {

// The left-associative binary operators by precedence, loosest first (as
// jinja2.parser): a level's operands are the next level's, except that `not`
// comes between `and` and the comparisons, and the last level's are unary.
struct OpName {
  std::string_view text;
  BinaryOp op;
};
struct OpLevel {
  bool words;  // keywords (or, and) rather than operator tokens
  int n;
  OpName ops[4];
};
constexpr OpLevel kLevels[] = {
    {true, 1, {{"or", BinaryOp::Or}}},
    {true, 1, {{"and", BinaryOp::And}}},
    {false, 2, {{"+", BinaryOp::Add}, {"-", BinaryOp::Sub}}},
    {false, 1, {{"~", BinaryOp::Concat}}},
    {false, 4, {{"*", BinaryOp::Mul}, {"/", BinaryOp::Div}, {"//", BinaryOp::FloorDiv}, {"%", BinaryOp::Mod}}},
    {false, 1, {{"**", BinaryOp::Pow}}},
};
constexpr int kLast = static_cast<int>(std::size(kLevels)) - 1;

const OpName* match(const TokenStream& ts, const OpLevel& l) {
  for (int i = 0; i < l.n; ++i)
    if (l.words ? ts.is_name(l.ops[i].text) : ts.is_op(l.ops[i].text)) return &l.ops[i];
  return nullptr;
}

}  // namespace

ExprPtr ExprParser::parse_binary(int level) {
  auto operand = [&] {
    if (level == kAndLevel) return parse_not();
    return level == kLast ? parse_unary(true) : parse_binary(level + 1);
  };
  ExprPtr left = operand();
  while (const OpName* o = match(ts_, kLevels[level])) {
    const int line = ts_.next().line;
    left = binary(o->op, std::move(left), operand(), line);
  }
  return left;
}

ExprPtr ExprParser::parse_unary(bool with_filter) {
  DepthGuard guard(*this);
  ExprPtr node;
  if (ts_.is_op("-") || ts_.is_op("+")) {
    const Token& t = ts_.next();
    auto n = make<UnaryExpr>(t.line);
    n->op = t.text == "-" ? UnaryOp::Neg : UnaryOp::Pos;
    n->operand = parse_unary(false);
    node = std::move(n);
  } else {
    node = parse_primary();
  }
  node = parse_postfix(std::move(node));
  return with_filter ? parse_filter_expr(std::move(node)) : std::move(node);
}

ExprPtr ExprParser::parse_primary() {
  const Token* t = ts_.peek();
  if (!t) ts_.error("unexpected end of expression");
  int line = t->line;
  switch (t->type) {
    case Token::Type::Name: {
      std::string name = ts_.next().text;
      if (name == "true" || name == "True") return literal(Value(true), line);
      if (name == "false" || name == "False") return literal(Value(false), line);
      if (name == "none" || name == "None") return literal(Value::none(), line);
      auto n = make<NameExpr>(line);
      n->name = std::move(name);
      return n;
    }
    case Token::Type::String: {
      std::string s = ts_.next().text;
      while (ts_.peek() && ts_.peek()->type == Token::Type::String) s += ts_.next().text;
      return literal(Value(std::move(s)), line);
    }
    case Token::Type::Int: return literal(Value(ts_.next().int_value), line);
    case Token::Type::Float: return literal(Value(ts_.next().float_value), line);
    case Token::Type::Op: break;
  }
  if (ts_.skip_op("(")) {
    ExprPtr inner = parse_tuple();
    ts_.expect_op(")");
    return inner;
  }
  if (ts_.is_op("[")) return parse_list();
  if (ts_.is_op("{")) return parse_dict();
  ts_.error(cat("unexpected ", ts_.describe_current()));
}

ExprPtr ExprParser::parse_list() {
  auto n = make<ListExpr>(ts_.next().line);
  while (!ts_.is_op("]")) {
    if (!n->items.empty()) ts_.expect_op(",");
    if (ts_.is_op("]")) break;
    n->items.push_back(parse_expression());
  }
  ts_.expect_op("]");
  return n;
}

ExprPtr ExprParser::parse_dict() {
  auto n = make<DictExpr>(ts_.next().line);
  while (!ts_.is_op("}")) {
    if (!n->items.empty()) ts_.expect_op(",");
    if (ts_.is_op("}")) break;
    ExprPtr key = parse_expression();
    ts_.expect_op(":");
    n->items.emplace_back(std::move(key), parse_expression());
  }
  ts_.expect_op("}");
  return n;
}

ExprPtr ExprParser::parse_postfix(ExprPtr node) {
  while (true) {
    if (ts_.is_op(".") || ts_.is_op("[")) {
      node = parse_subscript(std::move(node));
    } else if (ts_.is_op("(")) {
      auto call = make<CallExpr>(ts_.line());
      call->callee = std::move(node);
      call->args = parse_call_args();
      node = std::move(call);
    } else {
      return node;
    }
  }
}

ExprPtr ExprParser::parse_subscript(ExprPtr node) {
  const Token& open = ts_.next();
  int line = open.line;
  if (open.text == ".") {
    const Token& t = ts_.next();
    if (t.type == Token::Type::Int) {
      auto n = make<ItemExpr>(line);
      n->obj = std::move(node);
      n->index = literal(Value(t.int_value), line);
      return n;
    }
    if (t.type != Token::Type::Name) ts_.error("expected a name or number after '.'");
    auto n = make<AttrExpr>(line);
    n->obj = std::move(node);
    n->name = t.text;
    return n;
  }
  // [index] or [start:stop:step]
  ExprPtr parts[3];
  int colons = 0;
  while (!ts_.is_op("]")) {
    if (ts_.skip_op(":")) {
      if (++colons > 2) ts_.error("invalid slice");
      continue;
    }
    if (parts[colons]) ts_.error(cat("expected ']', got ", ts_.describe_current()));
    parts[colons] = parse_expression();
  }
  ts_.expect_op("]");
  if (colons == 0) {
    if (!parts[0]) ts_.error("expected an index inside '[]'");
    auto n = make<ItemExpr>(line);
    n->obj = std::move(node);
    n->index = std::move(parts[0]);
    return n;
  }
  auto n = make<SliceExpr>(line);
  n->obj = std::move(node);
  n->start = std::move(parts[0]);
  n->stop = std::move(parts[1]);
  n->step = std::move(parts[2]);
  return n;
}

ExprPtr ExprParser::parse_filter_expr(ExprPtr node) {
  while (true) {
    if (ts_.is_op("|")) {
      ts_.next();
      node = parse_filter(std::move(node));
    } else if (ts_.is_name("is")) {
      node = parse_test(std::move(node));
    } else if (ts_.is_op("(")) {
      auto call = make<CallExpr>(ts_.line());
      call->callee = std::move(node);
      call->args = parse_call_args();
      node = std::move(call);
    } else {
      return node;
    }
  }
}

std::unique_ptr<FilterExpr> ExprParser::parse_filter(ExprPtr input) {
  int line = ts_.line();
  auto n = make<FilterExpr>(line);
  n->input = std::move(input);
  n->name = ts_.expect_name();
  while (ts_.skip_op(".")) n->name.append(1, '.').append(ts_.expect_name());
  n->fn = find_filter(n->name);
  if (!n->fn) fail("template line ", line, ": no filter named '", n->name, "'");
  if (ts_.is_op("(")) n->args = parse_call_args();
  return n;
}

std::vector<std::unique_ptr<FilterExpr>> ExprParser::parse_filter_chain(bool leading_pipe) {
  std::vector<std::unique_ptr<FilterExpr>> chain;
  if (!leading_pipe) chain.push_back(parse_filter(nullptr));
  while (ts_.skip_op("|")) chain.push_back(parse_filter(nullptr));
  return chain;
}

ExprPtr ExprParser::parse_test(ExprPtr input) {
  int line = ts_.next().line;  // 'is'
  auto n = make<TestExpr>(line);
  n->input = std::move(input);
  n->negated = ts_.skip_name("not");
  n->name = ts_.expect_name();
  while (ts_.skip_op(".")) n->name.append(1, '.').append(ts_.expect_name());
  n->fn = find_test(n->name);
  if (!n->fn) fail("template line ", line, ": no test named '", n->name, "'");
  const Token* t = ts_.peek();
  if (ts_.is_op("(")) {
    n->args = parse_call_args();
  } else if (t && (t->type != Token::Type::Op || t->text == "[" || t->text == "{") &&
             !(t->type == Token::Type::Name &&
               (t->text == "else" || t->text == "or" || t->text == "and" || t->text == "if" ||
                t->text == "is" || t->text == "in" || t->text == "not"))) {
    // One argument without parentheses: `x is divisibleby 3`, `x is sameas none`.
    CallArg arg;
    arg.value = parse_postfix(parse_primary());
    n->args.push_back(std::move(arg));
  }
  return n;
}

std::vector<CallArg> ExprParser::parse_call_args() {
  ts_.expect_op("(");
  std::vector<CallArg> args;
  bool seen_keyword = false;
  while (!ts_.is_op(")")) {
    if (!args.empty()) ts_.expect_op(",");
    if (ts_.is_op(")")) break;
    if (ts_.is_op("*") || ts_.is_op("**")) ts_.error("*args and **kwargs in calls are not supported");
    CallArg arg;
    const Token* t = ts_.peek();
    if (t && t->type == Token::Type::Name && ts_.is_op("=", 1)) {
      arg.name = ts_.next().text;
      ts_.next();
      seen_keyword = true;
    } else if (seen_keyword) {
      ts_.error("positional argument follows keyword argument");
    }
    arg.value = parse_expression();
    args.push_back(std::move(arg));
  }
  ts_.expect_op(")");
  return args;
}

Target ExprParser::parse_target(bool allow_attr) {
  Target target;
  bool parens = ts_.skip_op("(");
  target.names.push_back(ts_.expect_name());
  if (allow_attr && !parens && ts_.skip_op(".")) {
    target.attr = ts_.expect_name();
    return target;
  }
  while (ts_.skip_op(",")) {
    target.unpack = true;
    if (ts_.is_op(")") || ts_.is_op("=") || ts_.is_name("in") || ts_.at_end()) break;
    target.names.push_back(ts_.expect_name());
  }
  if (parens) {
    ts_.expect_op(")");
    target.unpack = true;
  }
  for (const auto& n : target.names) {
    if (n == "true" || n == "false" || n == "none" || n == "True" || n == "False" || n == "None") {
      ts_.error(cat("cannot assign to '", n, "'"));
    }
  }
  return target;
}

}  // namespace dsinfer::jinja
