// Statement grammar: the tags between {% %} and the bodies they enclose.
#include <algorithm>
#include <initializer_list>

#include "jinja/parser.h"

namespace dsinfer::jinja {

namespace {

constexpr int kMaxBlockDepth = 100;

template <typename T>
std::unique_ptr<T> make(int line) {
  auto n = std::make_unique<T>();
  n->line = line;
  return n;
}

class TemplateParser {
 public:
  explicit TemplateParser(std::vector<Segment> segs) : segs_(std::move(segs)) {}

  Body parse_all();

 private:
  // Parses statements up to one of the end tags. Returns the tag found and
  // leaves `end_ts` positioned after its name (for `elif cond`).
  Body parse_body(std::initializer_list<std::string_view> end_tags, const char* block, std::string* found,
                  std::unique_ptr<TokenStream>* end_ts);
  StmtPtr parse_statement(const Segment& seg, TokenStream& ts, const std::string& tag);
  StmtPtr parse_if(TokenStream& ts, int line);
  StmtPtr parse_for(TokenStream& ts, int line);
  StmtPtr parse_set(TokenStream& ts, int line);
  StmtPtr parse_macro(TokenStream& ts, int line);
  StmtPtr parse_filter_block(TokenStream& ts, int line);
  StmtPtr parse_with(TokenStream& ts, int line, bool generation);
  StmtPtr parse_loop_control(TokenStream& ts, int line, const std::string& tag);
  // Body up to the single closing tag `end`.
  Body parse_until(const char* end, const char* block);

  std::vector<Segment> segs_;
  size_t pos_ = 0;
  int depth_ = 0;
  int loop_depth_ = 0;
};

Body TemplateParser::parse_all() { return parse_body({}, nullptr, nullptr, nullptr); }

Body TemplateParser::parse_body(std::initializer_list<std::string_view> end_tags, const char* block,
                                std::string* found, std::unique_ptr<TokenStream>* end_ts) {
  int start_line = pos_ < segs_.size() ? segs_[pos_].line : 0;
  if (++depth_ > kMaxBlockDepth) fail("template line ", start_line, ": blocks nested too deeply");
  Body body;
  while (pos_ < segs_.size()) {
    const Segment& seg = segs_[pos_++];
    if (seg.kind == Segment::Kind::Text) {
      auto n = make<TextStmt>(seg.line);
      n->text = seg.text;
      body.push_back(std::move(n));
      continue;
    }
    auto ts = std::make_unique<TokenStream>(seg.tokens, seg.line);
    if (seg.kind == Segment::Kind::Print) {
      auto n = make<OutputStmt>(seg.line);
      n->expr = ExprParser(*ts).parse_tuple();
      ts->expect_end();
      body.push_back(std::move(n));
      continue;
    }
    if (ts->at_end()) fail("template line ", seg.line, ": empty tag");
    std::string tag = ts->expect_name();
    if (std::find(end_tags.begin(), end_tags.end(), tag) != end_tags.end()) {
      *found = tag;
      *end_ts = std::move(ts);
      --depth_;
      return body;
    }
    body.push_back(parse_statement(seg, *ts, tag));
  }
  if (block) {
    std::string expected;
    for (auto t : end_tags) expected += (expected.empty() ? "'" : " or '") + std::string(t) + "'";
    fail("template line ", segs_.empty() ? 0 : segs_.back().line, ": unexpected end of template: the '", block,
         "' block is not closed (expected ", expected, ")");
  }
  --depth_;
  return body;
}

Body TemplateParser::parse_until(const char* end, const char* block) {
  std::string found;
  std::unique_ptr<TokenStream> ts;
  Body body = parse_body({end}, block, &found, &ts);
  ts->expect_end();
  return body;
}

StmtPtr TemplateParser::parse_statement(const Segment& seg, TokenStream& ts, const std::string& tag) {
  int line = seg.line;
  if (tag == "if") return parse_if(ts, line);
  if (tag == "for") return parse_for(ts, line);
  if (tag == "set") return parse_set(ts, line);
  if (tag == "macro") return parse_macro(ts, line);
  if (tag == "filter") return parse_filter_block(ts, line);
  if (tag == "with") return parse_with(ts, line, false);
  if (tag == "generation") return parse_with(ts, line, true);
  if (tag == "break" || tag == "continue") return parse_loop_control(ts, line, tag);
  static const char* const kUnsupported[] = {"call", "include", "import", "from", "extends", "block", "do",
                                             "autoescape", "trans"};
  for (const char* u : kUnsupported) {
    if (tag == u) fail("template line ", line, ": the '", tag, "' tag is not supported");
  }
  if (tag.rfind("end", 0) == 0 || tag == "elif" || tag == "else") {
    fail("template line ", line, ": unexpected '", tag, "' (no open block it could close)");
  }
  fail("template line ", line, ": unknown tag '", tag, "'");
}

StmtPtr TemplateParser::parse_if(TokenStream& ts, int line) {
  auto n = make<IfStmt>(line);
  ExprPtr cond = ExprParser(ts).parse_tuple(false);
  ts.expect_end();
  while (true) {
    std::string found;
    std::unique_ptr<TokenStream> end;
    Body body = parse_body({"elif", "else", "endif"}, "if", &found, &end);
    n->branches.emplace_back(std::move(cond), std::move(body));
    if (found == "elif") {
      cond = ExprParser(*end).parse_tuple(false);
      end->expect_end();
      continue;
    }
    end->expect_end();
    if (found == "else") n->else_body = parse_until("endif", "if");
    return n;
  }
}

StmtPtr TemplateParser::parse_for(TokenStream& ts, int line) {
  auto n = make<ForStmt>(line);
  ExprParser ep(ts);
  n->target = ep.parse_target(false);
  if (!ts.skip_name("in")) ts.error(cat("expected 'in', got ", ts.describe_current()));
  n->iter = ep.parse_tuple(false, {"recursive"});
  if (ts.skip_name("if")) n->filter = ep.parse_expression();
  if (ts.is_name("recursive")) ts.error("recursive loops are not supported");
  ts.expect_end();
  std::string found;
  std::unique_ptr<TokenStream> end;
  ++loop_depth_;
  n->body = parse_body({"else", "endfor"}, "for", &found, &end);
  --loop_depth_;
  end->expect_end();
  if (found == "else") n->else_body = parse_until("endfor", "for");
  return n;
}

StmtPtr TemplateParser::parse_set(TokenStream& ts, int line) {
  ExprParser ep(ts);
  Target target = ep.parse_target(true);
  if (ts.skip_op("=")) {
    auto n = make<SetStmt>(line);
    n->target = std::move(target);
    n->value = ep.parse_tuple();
    ts.expect_end();
    return n;
  }
  auto n = make<SetBlockStmt>(line);
  n->target = std::move(target);
  if (ts.is_op("|")) n->filters = ep.parse_filter_chain(true);
  ts.expect_end();
  n->body = parse_until("endset", "set");
  return n;
}

StmtPtr TemplateParser::parse_macro(TokenStream& ts, int line) {
  auto n = make<MacroStmt>(line);
  n->name = ts.expect_name();
  ts.expect_op("(");
  ExprParser ep(ts);
  while (!ts.is_op(")")) {
    if (!n->params.empty()) ts.expect_op(",");
    if (ts.is_op(")")) break;
    MacroParam p;
    p.name = ts.expect_name();
    if (ts.skip_op("=")) {
      p.default_value = ep.parse_expression();
    } else if (!n->params.empty() && n->params.back().default_value) {
      ts.error("non-default argument follows default argument");
    }
    n->params.push_back(std::move(p));
  }
  ts.expect_op(")");
  ts.expect_end();
  int saved_loops = loop_depth_;
  loop_depth_ = 0;
  n->body = parse_until("endmacro", "macro");
  loop_depth_ = saved_loops;
  return n;
}

StmtPtr TemplateParser::parse_filter_block(TokenStream& ts, int line) {
  auto n = make<FilterBlockStmt>(line);
  n->filters = ExprParser(ts).parse_filter_chain(false);
  ts.expect_end();
  n->body = parse_until("endfilter", "filter");
  return n;
}

StmtPtr TemplateParser::parse_with(TokenStream& ts, int line, bool generation) {
  auto n = make<WithStmt>(line);
  ExprParser ep(ts);
  while (!generation && !ts.at_end()) {
    if (!n->assignments.empty()) ts.expect_op(",");
    Target t = ep.parse_target(false);
    ts.expect_op("=");
    n->assignments.emplace_back(std::move(t), ep.parse_expression());
  }
  ts.expect_end();
  n->body = generation ? parse_until("endgeneration", "generation") : parse_until("endwith", "with");
  return n;
}

StmtPtr TemplateParser::parse_loop_control(TokenStream& ts, int line, const std::string& tag) {
  if (loop_depth_ == 0) fail("template line ", line, ": '", tag, "' outside of a loop");
  ts.expect_end();
  auto n = make<LoopControlStmt>(line);
  n->flow = tag == "break" ? Flow::Break : Flow::Continue;
  return n;
}

}  // namespace

Body parse_template(std::string_view source) { return TemplateParser(lex(source)).parse_all(); }

}  // namespace dsinfer::jinja
