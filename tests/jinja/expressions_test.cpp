// Expressions: literals, operators and their precedence, subscripts and
// slices, conditional expressions, tests, undefined values.
//
// Expected outputs are what Jinja2 3.1 renders with the environment
// transformers uses for chat templates (trim_blocks, lstrip_blocks,
// loopcontrols, tojson = json.dumps(ensure_ascii=False)).
#include <gtest/gtest.h>

#include "jinja/jinja_test_util.h"

namespace dsinfer::jinja::test {
namespace {

TEST(JinjaExpressions, Literals) {
  EXPECT_EQ(render(R"J({{ "\x41\u00e9\t\\\'\"\n" }}|{{ 'a' 'b' }}|{{ "\d" }})J"),
            "Aé\t\\'\"\n|ab|\\d");
  EXPECT_EQ(render("{{ 1_000 + 0x10 + 0b11 + 0o17 }}"),
            "1034");
  EXPECT_EQ(render("{{ true }}{{ True }}{{ false }}{{ none }}{{ None }}{{ 1.0 }}{{ 1.5e3 }}{{ 2e-5 }}"),
            "TrueTrueFalseNoneNone1.01500.02e-05");
  EXPECT_EQ(render(R"J({{ [1.0, 'a', none, true] }}{{ {'a': none, 'b': 'it\'s'} }}{{ (1,) }}{{ (1, 2) }}{{ [] }}{{ {} }})J"),
            R"J([1.0, 'a', None, True]{'a': None, 'b': "it's"}(1,)(1, 2)[]{})J");
  EXPECT_EQ(render("{{ [1, 2,] }}{{ {'a': 1,} }}"),
            "[1, 2]{'a': 1}");
}

TEST(JinjaExpressions, Arithmetic) {
  EXPECT_EQ(render("{{ 2**10 }} {{ 2**-1 }} {{ 7//2 }} {{ -7//2 }} {{ -7%3 }} {{ 7%-3 }} {{ 7/2 }} {{ 4/2 }} {{ 1.5//1 }} {{ -1.5%1 }}"),
            "1024 0.5 3 -4 2 -2 3.5 2.0 1.0 0.5");
  EXPECT_EQ(render("{{ 3*'ab' }} {{ [1]*3 }} {{ 2*3 }} {{ true+1 }} {{ 1-2.5 }} {{ 0.1+0.2 }} {{ 1e15 }} {{ 1e16 }}"),
            "ababab [1, 1, 1] 6 2 -1.5 0.30000000000000004 1000000000000000.0 1e+16");
  EXPECT_EQ(render("{{ -2 ** 2 }} {{ (-2) ** 2 }} {{ 2 ** 3 ** 2 }} {{ 1 + 2 * 3 }} {{ 10 - 2 - 3 }} {{ -xs[0] }} {{ +1 }}"),
            "4 4 64 7 5 -3 1");
  EXPECT_EQ(render("{{ 'a' ~ 1 ~ none ~ true }} {{ 1 ~ 2 }} {{ 'a' ~ 'b' + 'c' }} {{ 'a' ~ undefined_var ~ 'b' }}"),
            "a1NoneTrue 12 abc ab");
  // Each level binds tighter than the one before: or, and, not, comparisons, + -, ~, * / // %, **.
  EXPECT_EQ(render("{{ 2 * 3 ** 2 }} {{ 2 ** 2 * 3 }} {{ 7 // 2 * 2 }} {{ 1 ~ 2 * 3 }} {{ 1 + 1 == 2 }} {{ 2 ~ 1 ~ 0 == '210' }}"),
            "18 12 6 16 True True");
  // ~ binds tighter than + and -: 'ab' ~ 3 - 1 is ('ab3') - 1, an error in Jinja2, not 'ab2'.
  EXPECT_NE(render_error("{{ 'ab' ~ 3 - 1 }}"), "<no error>");
  EXPECT_EQ(render("{{ 'ab' ~ (3 - 1) }}"), "ab2");
  EXPECT_EQ(render("{{ 'a' + 'b' }} {{ [1] + [2] }} {{ (1, 2) + (3,) }} {{ 'a' * -1 }}|"),
            "ab [1, 2] (1, 2, 3) |");
}

TEST(JinjaExpressions, LogicAndComparison) {
  EXPECT_EQ(render("{{ [] or 'x' }} {{ 0 and 1 }} {{ 1 and 'y' }} {{ none or none }} {{ not 0 }} {{ not 'a' }}"),
            "x 0 y None True False");
  EXPECT_EQ(render("{{ 1 < 2 < 3 }} {{ 3 > 2 > 2 }} {{ 1 in xs }} {{ 5 not in xs }} {{ 'ell' in s }} {{ 'a' in d }} {{ 'x' in undefined_var }}"),
            "True False True True True True False");
  EXPECT_EQ(render("{{ true or true and false }} {{ not false and false }} {{ false and true or true }} {{ not 1 + 1 == 3 }}"),
            "True False True True");
  EXPECT_EQ(render("{{ not 1 == 2 }} {{ 1 == 1.0 }} {{ true == 1 }} {{ 'a' != 'b' }} {{ [1, 2] == [1, 2] }} {{ (1, 2) == [1, 2] }} {{ 'a' < 'b' }} {{ [1, 2] < [1, 3] }}"),
            "True True True True True False True True");
  EXPECT_EQ(render("{{ d == {'b': [1, 2], 'a': 1} }} {{ undefined_var == undefined_var }} {{ undefined_var == none }} {{ none == none }}"),
            "True True False True");
}

TEST(JinjaExpressions, Conditional) {
  EXPECT_EQ(render("{{ 1 if true else 2 }}{{ 1 if false else 2 }}[{{ 'x' if false }}]{{ 'a' if false else 'b' if false else 'c' }}"),
            "12[]c");
}

TEST(JinjaExpressions, SubscriptsAndSlices) {
  EXPECT_EQ(render("{{ xs[-1] }} {{ xs[1:] }} {{ xs[::-1] }} {{ xs[:2] }} {{ s[::-1] }} {{ s[1:3] }} {{ s[-3:] }} {{ xs[::2] }} {{ xs[5:] }} {{ xs[-10:2] }}"),
            "2 [1, 2] [2, 1, 3] [3, 1] dlroW olleH el rld [3, 2] [] [3, 1]");
  EXPECT_EQ(render("{{ d.a }} {{ d['a'] }} {{ d.b[0] }} [{{ d.zz }}] {{ d.b.1 }} [{{ n.attr }}] [{{ n[0] }}] [{{ xs[10] }}]"),
            "1 1 1 [] 2 [] [] []");
  EXPECT_EQ(render("{{ 'hello'[1] }} {{ 'hello'[-1] }} {{ 'héllo'[1] }} {{ 'héllo'[::-1] }} {{ (1, 2, 3)[1:] }}"),
            "e o é olléh (2, 3)");
  EXPECT_EQ(render("{{ msgs[1].tool_calls[0].function.arguments.x }} {{ msgs[1]['tool_calls'][0]['function']['name'] }}"),
            "1 f");
}

TEST(JinjaExpressions, Tests) {
  EXPECT_EQ(render("{{ xs is iterable }} {{ d is mapping }} {{ s is string }} {{ 1.5 is float }} {{ 3 is odd }} {{ 4 is even }} {{ 9 is divisibleby 3 }} {{ n is none }}"),
            "True True True True True True True True");
  EXPECT_EQ(render("{{ true is boolean }} {{ false is false }} {{ true is true }} {{ 1 is true }} {{ 1 is sameas 1 }} {{ xs is sequence }} {{ 2 is in xs }} {{ 'x' is lower }} {{ 'X' is upper }}"),
            "True True True False True True True True True");
  EXPECT_EQ(render("{{ x is not defined }} {{ d.a is defined }} {{ d.q is undefined }} {{ 1 is number }} {{ true is number }} {{ true is integer }} {{ 1 is integer }} {{ s is not none }}"),
            "True True True True True False True True");
  EXPECT_EQ(render("{{ 'a' is eq 'a' }} {{ 'a' is equalto 'b' }} {{ 2 is gt 1 }} {{ 2 is lessthan 1 }} {{ 1 is ne 2 }} {{ 'upper' is filter }} {{ 'odd' is test }}"),
            "True False True False True True True");
  EXPECT_EQ(render("{{ undefined_var is iterable }} {{ undefined_var is sequence }} {{ s is mapping }} {{ d is iterable }} {{ none is iterable }}"),
            "True True False True False");
  EXPECT_EQ(render("{{ not add_generation_prompt is defined }} {{ messages is defined and messages }}"),
            "True [{'role': 'system', 'content': 'sys'}, {'role': 'user', 'content': 'hi'}]");
}

TEST(JinjaExpressions, UndefinedValues) {
  EXPECT_EQ(render("[{{ undefined_var }}] {{ undefined_var is defined }} {{ undefined_var|length }} {{ undefined_var|list }} [{{ undefined_var|upper }}] [{{ undefined_var|first }}]"),
            "[] False 0 [] [] []");
  EXPECT_EQ(render("{% for x in undefined_var %}{{ x }}{% else %}empty{% endfor %} {{ undefined_var|default('dflt') }} {{ undefined_var|items|list }} [{{ undefined_var|join(',') }}]"),
            "empty dflt [] []");
  EXPECT_EQ(render("{% if undefined_var %}yes{% else %}no{% endif %} {% if not undefined_var %}not{% endif %}"),
            "no not");
  EXPECT_EQ(render("{% for m in msgs %}{% for t in m.tool_calls %}{{ t.function.name }}{% endfor %}{{ m.tool_calls|length }}{% endfor %}"),
            "0f1");
}

}  // namespace
}  // namespace dsinfer::jinja::test
