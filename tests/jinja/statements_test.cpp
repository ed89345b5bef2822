// Statements: if, for (loop variable, filters, else, unpacking), break and
// continue, set (scoping, block set, namespace attributes), macros, filter and
// with blocks.
//
// Expected outputs are what Jinja2 3.1 renders with the environment
// transformers uses for chat templates (trim_blocks, lstrip_blocks,
// loopcontrols, tojson = json.dumps(ensure_ascii=False)).
#include <gtest/gtest.h>

#include "jinja/jinja_test_util.h"

namespace dsinfer::jinja::test {
namespace {

TEST(JinjaStatements, If) {
  EXPECT_EQ(render("{% if 1 %}a{% endif %}{% if 0 %}b{% else %}c{% endif %}{% if 0 %}d{% elif 1 %}e{% else %}f{% endif %}{% if 0 %}g{% elif 0 %}h{% endif %}"),
            "ace");
  EXPECT_EQ(render("{% if xs|length > 2 and s.startswith('H') %}ok{% endif %}"),
            "ok");
}

TEST(JinjaStatements, ForLoop) {
  EXPECT_EQ(render("{% for x in xs %}{{ loop.index }}{{ loop.index0 }}{{ loop.first }}{{ loop.last }}{{ loop.length }}{{ loop.revindex }}{{ loop.revindex0 }}|{% endfor %}"),
            "10TrueFalse332|21FalseFalse321|32FalseTrue310|");
  EXPECT_EQ(render("{% for x in xs if x > 1 %}{{ x }}{{ loop.index }}{{ loop.length }},{% else %}empty{% endfor %}"),
            "312,222,");
  EXPECT_EQ(render("{% for x in [] %}{{ x }}{% else %}empty{% endfor %}"),
            "empty");
  EXPECT_EQ(render("{% for k, v in d.items() %}{{ k }}={{ v }};{% endfor %}{% for k, v in d|items %}{{ k }}={{ v }};{% endfor %}"),
            "a=1;b=[1, 2];a=1;b=[1, 2];");
  EXPECT_EQ(render("{% for k in d %}{{ k }}{% endfor %}{% for c in 'héllo' %}[{{ c }}]{% endfor %}"),
            "ab[h][é][l][l][o]");
  EXPECT_EQ(render("{% for x in xs %}{{ loop.previtem }}-{{ loop.nextitem }}-{{ loop.cycle('a','b') }};{% endfor %}"),
            "-1-a;3-2-b;1--a;");
  EXPECT_EQ(render("{% for a in [1, 2] %}{% for b in 'xy' %}{{ a }}{{ b }}{{ loop.index }}{% endfor %}{{ loop.index }} {% endfor %}"),
            "1x11y21 2x12y22 ");
  EXPECT_EQ(render("{% for a, b in [(1, 2), [3, 4]] %}{{ a + b }}{% endfor %}"),
            "37");
}

TEST(JinjaStatements, BreakAndContinue) {
  EXPECT_EQ(render("{% for x in xs %}{% if x == 1 %}{% break %}{% endif %}{{ x }}{% endfor %}|{% for x in xs %}{% if x == 1 %}{% continue %}{% endif %}{{ x }}{% endfor %}"),
            "3|32");
  EXPECT_EQ(render("{% for a in [1, 2] %}{% for b in [1, 2, 3] %}{% if b == 2 %}{% break %}{% endif %}{{ a }}{{ b }} {% endfor %}{% endfor %}"),
            "11 21 ");
}

TEST(JinjaStatements, SetAndScoping) {
  EXPECT_EQ(render("{% set x = 1 %}{% for i in [1] %}{{ x }}{% set x = 2 %}{{ x }}{% endfor %}{{ x }}"),
            "121");
  EXPECT_EQ(render("{% for i in [1,2] %}{% if i == 2 %}[{{ x }}]{% endif %}{% set x = i %}{% endfor %}"),
            "[]");
  EXPECT_EQ(render("{% if true %}{% set y = 5 %}{% endif %}{{ y }}"),
            "5");
  EXPECT_EQ(render("{% set a, b = 1, 2 %}{{ a }}{{ b }}{% set (c, e) = [3, 4] %}{{ c }}{{ e }}"),
            "1234");
  EXPECT_EQ(render("{% set x %}block {{ 1 + 1 }}{% endset %}[{{ x }}]{% set y | upper %}up{% endset %}{{ y }}"),
            "[block 2]UP");
  EXPECT_EQ(render("{% set messages = messages[1:] %}{{ messages|length }}"),
            "1");
  EXPECT_EQ(render("{% set t = (1, 2) %}{{ t }}{% set u = 1, %}{{ u }}"),
            "(1, 2)(1,)");
}

TEST(JinjaStatements, Namespace) {
  EXPECT_EQ(render("{% set ns = namespace(total=0, seen=false) %}{% for x in xs %}{% set ns.total = ns.total + x %}{% set ns.seen = true %}{% endfor %}{{ ns.total }}{{ ns.seen }}"),
            "6True");
  EXPECT_EQ(render("{% set ns = namespace(sys='') %}{% for m in msgs %}{% if m['role'] == 'user' %}{% set ns.sys = ns.sys + m['content'] %}{% endif %}{% endfor %}{{ ns.sys }}{{ ns['sys'] }}"),
            "hihi");
  EXPECT_EQ(render("{% set ns = namespace(d) %}{{ ns.a }}{{ ns.b }}"),
            "1[1, 2]");
}

TEST(JinjaStatements, Macros) {
  EXPECT_EQ(render("{% macro greet(name, greeting='Hello') %}{{ greeting }}, {{ name }}!{% endmacro %}{{ greet('A') }} {{ greet('B', greeting='Hi') }} {{ greet(name='C') }} [{{ greet() }}]"),
            "Hello, A! Hi, B! Hello, C! [Hello, !]");
  EXPECT_EQ(render("{% macro rec(n) %}{% if n > 0 %}{{ n }}{{ rec(n - 1) }}{% endif %}{% endmacro %}{{ rec(5) }}"),
            "54321");
  EXPECT_EQ(render("{% set g = 'global' %}{% macro m() %}{{ g }}{% set g = 'local' %}{{ g }}{% endmacro %}{{ m() }}{{ g }}"),
            "globallocalglobal");
  EXPECT_EQ(render("{% macro m(x) %}{{ x|upper }}{% endmacro %}{{ m('a') ~ m('b') }}{{ m('c')|length }}"),
            "AB1");
}

TEST(JinjaStatements, FilterAndWithBlocks) {
  EXPECT_EQ(render("{% filter upper %}hello {{ 'x' }}{% endfilter %}{% filter trim|upper %}  y  {% endfilter %}"),
            "HELLO XY");
  EXPECT_EQ(render("{% with a = 1, b = 2 %}{{ a + b }}{% endwith %}[{{ a }}]"),
            "3[]");
}

}  // namespace
}  // namespace dsinfer::jinja::test
