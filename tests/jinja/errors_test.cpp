// Errors: every failure is a dsinfer::Error naming the template line, and
// hostile templates (endless loops, runaway recursion, huge strings, deep
// nesting) end in an error instead of a hang or a crash.
#include <gtest/gtest.h>

#include <string>

#include "jinja/jinja_test_util.h"

namespace dsinfer::jinja::test {
namespace {

// Expects an error whose message starts with "template line <line>: " and
// contains `part`.
void expect_error(const std::string& source, int line, const std::string& part, const char* context = kContext) {
  std::string msg = render_error(source, context);
  std::string prefix = "template line " + std::to_string(line) + ": ";
  EXPECT_EQ(msg.rfind(prefix, 0), 0u) << "source: " << source << "\nmessage: " << msg;
  EXPECT_NE(msg.find(part), std::string::npos) << "source: " << source << "\nmessage: " << msg;
}

TEST(JinjaErrors, SyntaxErrorsNameTheLine) {
  expect_error("a\nb\n{{ foo( }}", 3, "unexpected '}'");
  expect_error("{% if true %}\nx\n", 2, "'if' block is not closed");
  expect_error("{% for x in xs %}\n{% if x %}\n{% endfor %}", 3, "unexpected 'endfor'");
  expect_error("\n{% endif %}", 2, "unexpected 'endif'");
  expect_error("\n\n{% bogus %}", 3, "unknown tag 'bogus'");
  expect_error("{% if %}{% endif %}", 1, "expected an expression");
  expect_error("x\n{{ 'unterminated }}", 2, "unterminated string");
  expect_error("x\n{# no end", 2, "missing end of comment tag");
  expect_error("{{ 1 + }}", 1, "unexpected end of expression");
  expect_error("{{ 1 2 }}", 1, "expected end of tag");
  expect_error("{% break %}", 1, "'break' outside of a loop");
  expect_error("{{ (1 }}", 1, "unexpected '}'");
  expect_error("{% raw %}never closed", 1, "missing end of raw directive");
  expect_error("{% set 1 = 2 %}", 1, "expected a name");
  expect_error("{% for x in xs recursive %}{% endfor %}", 1, "recursive loops are not supported");
  expect_error("{% include 'x' %}", 1, "'include' tag is not supported");
}

TEST(JinjaErrors, UnknownFiltersAndTestsFailAtParseTime) {
  // Like Jinja2, even in a branch that never runs.
  expect_error("{% if false %}\n{{ x | nosuchfilter }}{% endif %}", 2, "no filter named 'nosuchfilter'");
  expect_error("\n{{ x is nosuchtest }}", 2, "no test named 'nosuchtest'");
}

TEST(JinjaErrors, RaiseException) {
  std::string src = "line 1\n{% if true %}\n  {{ raise_exception('Only user and assistant roles are supported!') }}\n{% endif %}";
  expect_error(src, 3, "Only user and assistant roles are supported!");
  EXPECT_EQ(render_error(src), "template line 3: Only user and assistant roles are supported!");
}

TEST(JinjaErrors, RuntimeErrorsNameTheLine) {
  expect_error("a\n{{ 'a' + 1 }}", 2, "can only concatenate str (not \"int\") to str");
  expect_error("{{ none + 1 }}", 1, "unsupported operand type(s) for +: 'NoneType' and 'int'");
  expect_error("{{ 'x' + msgs[1].tool_calls[0].function.arguments }}", 1, "can only concatenate str (not \"dict\")");
  expect_error("\n\n{{ undefined_var.attr }}", 3, "'undefined_var' is undefined");
  expect_error("{{ 'x' + undefined_var }}", 1, "'undefined_var' is undefined");
  expect_error("{{ d.zz.yy }}", 1, "'dict object' has no attribute 'zz'");
  expect_error("{{ messages[5]['role'] }}", 1, "'list object' has no element 5");
  expect_error("{{ undefined_fn() }}", 1, "'undefined_fn' is undefined");
  expect_error("{{ 1() }}", 1, "'int' object is not callable");
  expect_error("{{ xs.nomethod() }}", 1, "'list object' has no attribute 'nomethod'");
  expect_error("{{ undefined_var|tojson }}", 1, "Object of type Undefined is not JSON serializable");
  expect_error("{% set n.a = 1 %}", 1, "cannot assign attribute on non-namespace object");
  expect_error("{{ [1, 2] < 'a' }}", 1, "'<' not supported between instances of 'list' and 'str'");
  expect_error("{{ 'abc'.split('') }}", 1, "empty separator");
  expect_error("{{ 1 / 0 }}", 1, "division by zero");
  expect_error("{{ 9223372036854775807 + 1 }}", 1, "integer overflow");
  expect_error("{% for x in 5 %}{% endfor %}", 1, "'int' object is not iterable");
  expect_error("{{ 1 in 'abc' }}", 1, "'in <string>' requires string as left operand, not int");
  expect_error("{{ 'x'|trim(1, 2) }}", 1, "trim() takes at most 1 argument(s)");
  expect_error("{{ xs|join(',', extra=1) }}", 1, "join() got an unexpected keyword argument 'extra'");
  expect_error("{% macro m(a) %}{% endmacro %}{{ m(1, 2) }}", 1, "macro 'm' takes not more than 1 argument(s)");
  expect_error("{% set a, b = [1] %}", 1, "not enough values to unpack (expected 2, got 1)");
  expect_error("{{ {[1]: 2} }}", 1, "unhashable type: 'list'");
}

TEST(JinjaErrors, ErrorsInsideMacrosNameTheMacroLine) {
  expect_error("{% macro m(x) %}\n{{ x + 1 }}\n{% endmacro %}\n{{ m('a') }}", 2, "can only concatenate str");
}

TEST(JinjaLimits, EndlessLoopsStop) {
  expect_error("{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}", 1,
               "too many loop iterations");
  expect_error("{{ range(1000000)|list }}", 1, "range too big");
}

TEST(JinjaLimits, RunawayRecursionStops) {
  expect_error("{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}", 1, "maximum macro recursion depth exceeded");
}

TEST(JinjaLimits, HugeStringsStop) {
  expect_error(
      "{% set ns = namespace(s='xxxxxxxx') %}{% for i in range(40) %}{% set ns.s = ns.s + ns.s %}{% endfor %}", 1,
      "string too long");
  expect_error("{{ 'x' * 1000000000000 }}", 1, "string too long");
  expect_error("{{ ('\\n' * 1000000)|indent(1000, blank=true) }}", 1, "string too long");
  expect_error("{{ ('x' * 100000)|replace('x', 'y' * 1000) }}", 1, "string too long");
  expect_error("{{ ('x' * 100000).replace('', 'y' * 1000) }}", 1, "string too long");
  expect_error("{{ ('x' * 2000000)|list|length }}", 1, "string too long to iterate");
  expect_error("{{ [[[[[[[[1]]]]]]]]|tojson(indent=1000) * 2000 }}", 1, "string too long");
  expect_error("{% set ns = namespace(l=[1]) %}{% for i in range(40) %}{% set ns.l = ns.l + ns.l %}{% endfor %}", 1,
               "list too long");
}

TEST(JinjaLimits, DeepTemplateNestingIsAnError) {
  std::string expr = std::string(500, '(') + "1" + std::string(500, ')');
  expect_error("{{ " + expr + " }}", 1, "expression nested too deeply");
  expect_error("{{ " + std::string(500, '[') + std::string(500, ']') + " }}", 1, "expression nested too deeply");
  expect_error("{{ " + std::string(2000, '-') + "1 }}", 1, "expression nested too deeply");
  std::string blocks;
  for (int i = 0; i < 300; ++i) blocks += "{% if true %}";
  for (int i = 0; i < 300; ++i) blocks += "{% endif %}";
  expect_error(blocks, 1, "blocks nested too deeply");
}

TEST(JinjaLimits, DeepDataIsAnErrorNotACrash) {
  std::string deep = std::string(5000, '[') + std::string(5000, ']');
  std::string ctx = "{\"v\": " + deep + "}";
  EXPECT_EQ(render_error("{{ v }}", ctx.c_str()), "template context: JSON value nested too deeply (over 256 levels)");
  // A 50000-level list built by mutation: printing it fails cleanly, and
  // destroying it does not overflow the stack.
  std::string build =
      "{% set ns = namespace(root=[]) %}{% set ns.cur = ns.root %}"
      "{% for i in range(50000) %}{% set next = [] %}{% set _ = ns.cur.append(next) %}{% set ns.cur = next %}"
      "{% endfor %}";
  EXPECT_EQ(render(build + "{{ ns.root|length }}"), "1");
  expect_error(build + "{{ ns.root|tojson }}", 1, "nested too deeply");
  expect_error(build + "{{ ns.root }}", 1, "nested too deeply");
}

TEST(JinjaLimits, ContainersCannotContainThemselves) {
  expect_error("{% set ns = namespace(l=[]) %}{{ ns.l.append(ns.l) }}", 1, "cannot append a list to itself");
  expect_error("{% set ns = namespace() %}{% set ns.self = [ns] %}", 1, "cannot store a namespace inside itself");
}

}  // namespace
}  // namespace dsinfer::jinja::test
