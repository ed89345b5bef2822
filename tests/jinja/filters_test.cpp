// Filters.
//
// Expected outputs are what Jinja2 3.1 renders with the environment
// transformers uses for chat templates (trim_blocks, lstrip_blocks,
// loopcontrols, tojson = json.dumps(ensure_ascii=False)).
#include <gtest/gtest.h>

#include "jinja/jinja_test_util.h"

namespace dsinfer::jinja::test {
namespace {

TEST(JinjaFilters, Strings) {
  EXPECT_EQ(render("[{{ '  a b  '|trim }}] [{{ 'xxaxx'|trim('x') }}] {{ 'aBc'|upper }} {{ 'aBc'|lower }} {{ 'hELLO wORLD'|capitalize }} {{ 'éa'|upper }}"),
            "[a b] [a] ABC abc Hello world ÉA");
  EXPECT_EQ(render(R"J({{ "hello-world (foo) [bar] <baz> it's x_y"|title }})J"),
            "Hello-World (Foo) [Bar] <Baz> It's X_y");
  EXPECT_EQ(render("{{ s|replace('l', 'L') }} {{ s|replace('l', 'L', 2) }} {{ 'abc'|replace('', '-') }}"),
            "HeLLo WorLd HeLLo World -a-b-c-");
  EXPECT_EQ(render(R"J({{ 5|string ~ 'x' }} {{ none|string }} {{ [1]|string }} {{ '<b>'|safe }} {{ "<a href='x'>&\"" | e }} {{ '<'|escape }})J"),
            "5x None [1] <b> &lt;a href=&#39;x&#39;&gt;&amp;&#34; &lt;");
  EXPECT_EQ(render("{{ 'hello big_world 42'|wordcount }} [{{ 'ab'|center(5) }}] [{{ 'abc'|center(4) }}]"),
            "3 [  ab ] [abc ]");
  EXPECT_EQ(render(R"J({{ "  a\n\nb\n"|indent(2) }}|{{ "a\nb"|indent(2, true) }}|{{ "a\n\nb"|indent(2, blank=true) }}|{{ "a\nb"|indent('> ') }})J"),
            "  a\n\n  b\n|  a\n  b|a\n  \n  b|a\n> b");
}

TEST(JinjaFilters, Numbers) {
  EXPECT_EQ(render("{{ '12'|int }} {{ ' 12 '|int }} {{ '1_2'|int }} {{ '12.7'|int }} {{ 'x'|int }} {{ none|int }} {{ '0x1A'|int(0, 16) }} {{ '1e3'|int }} {{ 3.9|int }} {{ true|int }} {{ 'x'|int(7) }}"),
            "12 12 12 12 0 0 26 1000 3 1 7");
  EXPECT_EQ(render("{{ ' 1.5 '|float }} {{ 'inf'|float }} {{ 'x'|float }} {{ 3|float }} {{ '1e3'|float }} {{ -3|abs }} {{ -2.5|abs }}"),
            "1.5 inf 0.0 3.0 1000.0 3 2.5");
  EXPECT_EQ(render("{{ 2.675|round(2) }} {{ 3|round }} {{ 2.5|round }} {{ 3.5|round }} {{ 2.1|round(method='ceil') }} {{ 2.9|round(method='floor') }} {{ -2.5|round }} {{ 1234|round(-2) }} {{ 1.23456|round(3) }}"),
            "2.67 3 2.0 4.0 3.0 2.0 -2.0 1200 1.235");
  EXPECT_EQ(render("{{ [1, 2, 3]|sum }} {{ [1, 2, 3]|sum(start=10) }} {{ [{'v': 1}, {'v': 2.5}]|sum(attribute='v') }} {{ [3, 1, 2]|max }} {{ [3, 1, 2]|min }} {{ ['b', 'A']|max }} {{ ['b', 'A']|min }}"),
            "6 16 3.5 3 1 b A");
}

TEST(JinjaFilters, ToJson) {
  EXPECT_EQ(render(R"J({{ {'b': 1, 'a': [1, 2.0, None, True, 'é\n"\\'], 'c': {}} | tojson }})J"),
            R"J({"b": 1, "a": [1, 2.0, null, true, "é\n\"\\"], "c": {}})J");
  EXPECT_EQ(render("{{ {'a': [1, {}], 'b': [], 'c': {'d': 'x'}}|tojson(indent=2) }}"),
            R"J({
  "a": [
    1,
    {}
  ],
  "b": [],
  "c": {
    "d": "x"
  }
})J");
  EXPECT_EQ(render("{{ d|tojson(indent=4) }}"),
            R"J({
    "a": 1,
    "b": [
        1,
        2
    ]
})J");
  EXPECT_EQ(render(R"J({{ 'é'|tojson(true) }} {{ '😀'|tojson(ensure_ascii=true) }} {{ '<&>\''|tojson }})J"),
            R"J("\u00e9" "\ud83d\ude00" "<&>'")J");
  EXPECT_EQ(render(R"J({{ {'b': 1, 'a': 2}|tojson(sort_keys=true) }} {{ [1, 2]|tojson(separators=(',', ':')) }} {{ 'x\u0001'|tojson }})J"),
            R"J({"a": 2, "b": 1} [1,2] "x\u0001")J");
  EXPECT_EQ(render("{{ msgs[1].tool_calls[0].function.arguments|tojson }} {{ 1.5|tojson }} {{ 1e20|tojson }} {{ none|tojson }}"),
            R"J({"x": 1} 1.5 1e+20 null)J");
}

TEST(JinjaFilters, Sequences) {
  EXPECT_EQ(render("{{ xs|length }} {{ 'héllo'|length }} {{ d|length }} {{ xs|count }} {{ 'abc'|first }} {{ 'abc'|last }} {{ xs|first }} {{ xs|last }} {{ {'x': 1}|first }} [{{ []|first }}]"),
            "3 5 2 3 a c 3 2 x []");
  EXPECT_EQ(render("{{ xs|list }} {{ 'ab'|list }} {{ d|list }} {{ xs|join }} {{ xs|join(', ') }} {{ msgs|join('|', attribute='role') }}"),
            "[3, 1, 2] ['a', 'b'] ['a', 'b'] 312 3, 1, 2 user|assistant");
  EXPECT_EQ(render("{{ 'abc'|reverse }} {{ [1, 2]|reverse|list }} {{ [3, 1, 2]|sort }} {{ ['b', 'A', 'a', 'B']|sort }} {{ ['b', 'A', 'a', 'B']|sort(case_sensitive=true) }} {{ [3, 1, 2]|sort(reverse=true) }}"),
            "cba [2, 1] [1, 2, 3] ['A', 'a', 'b', 'B'] ['A', 'B', 'a', 'b'] [3, 2, 1]");
  EXPECT_EQ(render("{{ [{'n': 2}, {'n': 1}]|sort(attribute='n') }} {{ ['a', 'A', 'b']|unique|list }} {{ ['a', 'A', 'b']|unique(case_sensitive=true)|list }}"),
            "[{'n': 1}, {'n': 2}] ['a', 'b'] ['a', 'A', 'b']");
  EXPECT_EQ(render("{{ d|items|list }} {{ {'b': 1, 'a': 2}|dictsort }} {{ {'b': 1, 'a': 2}|dictsort(by='value', reverse=true) }}"),
            "[('a', 1), ('b', [1, 2])] [('a', 2), ('b', 1)] [('a', 2), ('b', 1)]");
  EXPECT_EQ(render("{{ [1, 2, 3, 4]|select('odd')|list }} {{ [1, 0, 2]|select|list }} {{ [1, 2, 3]|reject('equalto', 2)|list }} {{ ['a', 'code_interpreter']|reject('equalto', 'code_interpreter')|join(', ') }}"),
            "[1, 3] [1, 2] [1, 3] a");
  EXPECT_EQ(render("{{ msgs|selectattr('role', 'equalto', 'user')|list|length }} {{ msgs|map(attribute='role')|join(',') }} {{ msgs|rejectattr('tool_calls')|map(attribute='content')|list }} {{ msgs|selectattr('tool_calls', 'defined')|list|length }}"),
            "1 user,assistant ['hi'] 1");
  EXPECT_EQ(render("{{ [{'a': 1}, {'b': 0}]|map(attribute='a', default=5)|list }} {{ ['a', 'b']|map('upper')|join(',') }} {{ ['a b', 'c']|map('replace', ' ', '_')|list }} {{ [{'f': {'n': 'x'}}]|map(attribute='f.n')|first }}"),
            "[1, 5] A,B ['a_b', 'c'] x");
}

TEST(JinjaFilters, DefaultAndAttr) {
  EXPECT_EQ(render("{{ none|default('x') }} {{ undefined_var|default('x') }} {{ ''|default('x', true) }} {{ undefined_var|d('y') }} {{ 0|default(5) }} {{ 0|d(5, boolean=true) }}"),
            "None x x y 0 5");
  EXPECT_EQ(render("{{ d|attr('a') }} {{ (d|attr('zz')) is defined }}"),
            " False");
}

}  // namespace
}  // namespace dsinfer::jinja::test
