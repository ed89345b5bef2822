// Behaviour outside plain Jinja2: transformers' additions ({% generation %},
// strftime_now) and the engine's own choices (case mapping beyond ASCII,
// list methods the immutable sandbox would refuse).
#include <gtest/gtest.h>

#include <ctime>
#include <string>

#include "jinja/jinja_test_util.h"

namespace dsinfer::jinja::test {
namespace {

TEST(JinjaExtensions, GenerationBlockRendersItsBody) {
  // transformers' AssistantTracker tag: the body renders as is, in its own scope.
  EXPECT_EQ(render("{% generation %}answer {{ 1 + 1 }}{% set y = 1 %}{% endgeneration %}[{{ y }}]"), "answer 2[]");
  EXPECT_EQ(render("a\n{%- generation -%}\n b \n{%- endgeneration %}"), "ab");
}

TEST(JinjaExtensions, StrftimeNow) {
  std::string year = render("{{ strftime_now('%Y') }}");
  ASSERT_EQ(year.size(), 4u);
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  localtime_r(&t, &tm);
  EXPECT_EQ(std::stoi(year), tm.tm_year + 1900);
  EXPECT_EQ(render("{{ strftime_now('') }}|"), "|");
}

TEST(JinjaExtensions, CaseMappingCoversLatinGreekCyrillic) {
  EXPECT_EQ(render("{{ 'éÀ ωΣ жЖ'|upper }} {{ 'ÉÀ ΣΩ ЖЁ'|lower }} {{ 'élan vital'.title() }}"), "ÉÀ ΩΣ ЖЖ éà σω жё Élan Vital");
}

TEST(JinjaExtensions, ListMethodsForNamespaceAccumulation) {
  EXPECT_EQ(render("{% set ns = namespace(items=[]) %}{% for x in xs %}{% set _ = ns.items.append(x * 2) %}{% endfor %}"
                   "{{ ns.items }} {{ ns.items.pop() }} {{ ns.items }}"),
            "[6, 2, 4] 4 [6, 2]");
  EXPECT_EQ(render("{% set l = [1] %}{{ l.append(2) }}{{ l.extend([3, 4]) }}{{ l.insert(0, 0) }} {{ l }}"),
            "NoneNoneNone [0, 1, 2, 3, 4]");
}

TEST(JinjaExtensions, LoopObjectIsSharedAcrossIterations) {
  // As in Jinja2, `loop` is one object updated in place.
  EXPECT_EQ(render("{% for x in xs %}{% set l = loop %}{% for y in 'ab' %}{{ l.index }}{{ loop.index }} {% endfor %}{% endfor %}"),
            "11 12 21 22 31 32 ");
}

}  // namespace
}  // namespace dsinfer::jinja::test
