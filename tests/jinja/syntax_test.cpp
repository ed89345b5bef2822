// Template syntax: text, comments, raw blocks and whitespace control with
// trim_blocks and lstrip_blocks on.
//
// Expected outputs are what Jinja2 3.1 renders with the environment
// transformers uses for chat templates (trim_blocks, lstrip_blocks,
// loopcontrols, tojson = json.dumps(ensure_ascii=False)).
#include <gtest/gtest.h>

#include "jinja/jinja_test_util.h"

namespace dsinfer::jinja::test {
namespace {

TEST(JinjaSyntax, PlainTextAndOutput) {
  EXPECT_EQ(render("plain text only"),
            "plain text only");
  EXPECT_EQ(render("a{{ 1 }}b{{ 'x' }}c"),
            "a1bxc");
  EXPECT_EQ(render("{{ s }}"),
            "Hello World");
  EXPECT_EQ(render("{{ 1, 2 }}"),
            "(1, 2)");
  EXPECT_EQ(render("x{{ '' }}y"),
            "xy");
  EXPECT_EQ(render("a\n"),
            "a");
  EXPECT_EQ(render("a\n\n"),
            "a\n");
  EXPECT_EQ(render("a\r\nb\r\n"),
            "a\nb");
}

TEST(JinjaSyntax, Comments) {
  EXPECT_EQ(render("a{# comment #}b"),
            "ab");
  EXPECT_EQ(render("{# comment #}\ntext\n  {# indented comment #}\nafter"),
            "text\nafter");
  EXPECT_EQ(render("{{ 'a' }}\n{#- c -#}\n{{ 'b' }}"),
            "ab");
  EXPECT_EQ(render("x {# multi\nline\ncomment #} y"),
            "x  y");
}

TEST(JinjaSyntax, TrimBlocksAndLstripBlocks) {
  EXPECT_EQ(render("a\n  {% if true %}\n    x\n  {% endif %}\nb"),
            "a\n    x\nb");
  EXPECT_EQ(render("line1\n{% for i in [1,2] %}\n  item {{ i }}\n{% endfor %}\nend"),
            "line1\n  item 1\n  item 2\nend");
  EXPECT_EQ(render("  {% set x = 1 %}\n  {{ x }}"),
            "  1");
  EXPECT_EQ(render("x {{ 'y' }}\n{{ 'z' }} w"),
            "x y\nz w");
  EXPECT_EQ(render("{% if true %}\n{% endif %}\ntrailing"),
            "trailing");
  EXPECT_EQ(render("{{ 'x' }}{# a #}\n  {% if 1 %}y{% endif %}"),
            "xy");
  EXPECT_EQ(render("\t{% if true %}tab{% endif %}"),
            "tab");
  EXPECT_EQ(render("a  {% if true %}x{% endif %}  b"),
            "a  x  b");
}

TEST(JinjaSyntax, WhitespaceControl) {
  EXPECT_EQ(render("a\n  {{ 1 }}\n  {%- if true %} y {% endif -%}\n  z"),
            "a\n  1 y z");
  EXPECT_EQ(render("{%- if true -%}   x   {%- endif -%}"),
            "x");
  EXPECT_EQ(render("{% for i in [1,2] -%}\n  item {{ i }}\n{%- endfor %}"),
            "item 1item 2");
  EXPECT_EQ(render("{{- '  a  ' -}}  \n  b"),
            "  a  b");
  EXPECT_EQ(render("{%- set x = 1 -%}\n{{ x }}"),
            "1");
  EXPECT_EQ(render("{{1}}{{-2}}"),
            "12");
  EXPECT_EQ(render("a   {{- 'b' -}}   c"),
            "abc");
}

TEST(JinjaSyntax, PlusDisablesTrimming) {
  EXPECT_EQ(render("{% if true +%}\nkept newline\n{%+ endif %}"),
            "\nkept newline\n");
  EXPECT_EQ(render("  {%+ if true %}x{% endif %}"),
            "  x");
}

TEST(JinjaSyntax, Raw) {
  EXPECT_EQ(render("{% raw %}{{ not parsed }} {% if %}{% endraw %}"),
            "{{ not parsed }} {% if %}");
  EXPECT_EQ(render("   {% raw %}\n   {{ x }}\n   {% endraw %}\ndone"),
            "\n   {{ x }}\ndone");
}

TEST(JinjaSyntax, DelimitersInsideStrings) {
  EXPECT_EQ(render(R"J({{ "a}}b" }}{{ '%}' }})J"),
            "a}}b%}");
  EXPECT_EQ(render("{% set x = '%}' %}{{ x }}"),
            "%}");
  EXPECT_EQ(render("{{ {'a': {'b': 1}} }}"),
            "{'a': {'b': 1}}");
}

}  // namespace
}  // namespace dsinfer::jinja::test
