// Recursive-descent parser following Jinja2's grammar and operator
// precedence (internal header). Errors throw dsinfer::Error with the line.
#pragma once

#include <string_view>
#include <vector>

#include "jinja/ast.h"
#include "jinja/lexer.h"

namespace dsinfer::jinja {

// Parses a whole template.
Body parse_template(std::string_view source);

// Cursor over the tokens of one tag.
class TokenStream {
 public:
  TokenStream(const std::vector<Token>& tokens, int line) : toks_(tokens), line_(line) {}

  bool at_end() const { return i_ >= toks_.size(); }
  const Token* peek(size_t ahead = 0) const { return i_ + ahead < toks_.size() ? &toks_[i_ + ahead] : nullptr; }
  bool is_op(std::string_view op, size_t ahead = 0) const;
  bool is_name(std::string_view name, size_t ahead = 0) const;
  bool skip_op(std::string_view op);
  bool skip_name(std::string_view name);
  const Token& next();
  void expect_op(std::string_view op);
  std::string expect_name();
  void expect_end();
  int line() const;
  [[noreturn]] void error(const std::string& msg) const;
  std::string describe_current() const;

 private:
  const std::vector<Token>& toks_;
  size_t i_ = 0;
  int line_;
};

// Expression grammar (parser_expr.cpp).
class ExprParser {
 public:
  explicit ExprParser(TokenStream& ts) : ts_(ts) {}

  ExprPtr parse_expression(bool with_condexpr = true);
  // Comma-separated expressions; a tuple when there is a comma. end_names
  // are extra keywords that end it (e.g. "recursive").
  ExprPtr parse_tuple(bool with_condexpr = true, std::vector<std::string_view> end_names = {});
  // Filter chain as in `{% filter a | b(1) %}`: first name without a pipe.
  std::vector<std::unique_ptr<FilterExpr>> parse_filter_chain(bool leading_pipe);
  // Assignment target: name, `a, b`, `(a, b)`, or `ns.attr` when allowed.
  Target parse_target(bool allow_attr);

 private:
  ExprPtr parse_condexpr();
  // Binary operator levels (parser_expr.cpp's kLevels): `or`, `and`, then
  // the arithmetic ones below the comparisons.
  static constexpr int kOrLevel = 0, kAndLevel = 1, kArithLevel = 2;
  ExprPtr parse_binary(int level);
  ExprPtr parse_not();
  ExprPtr parse_compare();
  ExprPtr parse_unary(bool with_filter);
  ExprPtr parse_primary();
  ExprPtr parse_list();
  ExprPtr parse_dict();
  ExprPtr parse_postfix(ExprPtr node);
  ExprPtr parse_subscript(ExprPtr node);
  ExprPtr parse_filter_expr(ExprPtr node);
  std::unique_ptr<FilterExpr> parse_filter(ExprPtr input);
  ExprPtr parse_test(ExprPtr input);
  std::vector<CallArg> parse_call_args();
  ExprPtr binary(BinaryOp op, ExprPtr left, ExprPtr right, int line);
  void enter();

  TokenStream& ts_;
  int depth_ = 0;
  friend struct DepthGuard;
};

}  // namespace dsinfer::jinja
