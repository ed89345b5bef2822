// The public Template API: contexts, key order, reuse.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <string>
#include <utility>

#include "core/error.h"
#include "jinja/template.h"

namespace dsinfer::jinja {
namespace {

TEST(JinjaApi, OrderedJsonKeepsKeyOrderForTojson) {
  Template t("{{ tool|tojson }}");
  auto ordered = nlohmann::ordered_json::parse(R"({"tool": {"name": "f", "description": "d", "arguments": {}}})");
  EXPECT_EQ(t.render(ordered), R"({"name": "f", "description": "d", "arguments": {}})");
  // nlohmann::json stores keys sorted, so that is the order it can give.
  auto sorted = nlohmann::json::parse(R"({"tool": {"name": "f", "description": "d", "arguments": {}}})");
  EXPECT_EQ(t.render(sorted), R"({"arguments": {}, "description": "d", "name": "f"})");
}

TEST(JinjaApi, RenderIsRepeatableAndKeepsNoState) {
  Template t("{% set ns = namespace(n=0) %}{% for x in xs %}{% set ns.n = ns.n + x %}{% endfor %}{{ ns.n }}");
  auto ctx = nlohmann::ordered_json::parse(R"({"xs": [1, 2, 3]})");
  EXPECT_EQ(t.render(ctx), "6");
  EXPECT_EQ(t.render(ctx), "6");
  EXPECT_EQ(t.render(nlohmann::ordered_json::parse(R"({"xs": [10]})")), "10");
}

TEST(JinjaApi, TemplateIsMovable) {
  Template a("{{ x }}!");
  Template b = std::move(a);
  EXPECT_EQ(b.render(nlohmann::ordered_json::parse(R"({"x": "moved"})")), "moved!");
}

TEST(JinjaApi, ContextValueTypes) {
  Template t("{{ i }} {{ f }} {{ b }} {{ n }} {{ s }} {{ l }} {{ o }} {{ big }}");
  auto ctx = nlohmann::ordered_json::parse(
      R"({"i": -3, "f": 2.5, "b": true, "n": null, "s": "é", "l": [1, "a"], "o": {"k": [false]},
          "big": 18446744073709551615})");
  EXPECT_EQ(t.render(ctx), "-3 2.5 True None é [1, 'a'] {'k': [False]} 1.8446744073709552e+19");
}

TEST(JinjaApi, NullOrEmptyContext) {
  EXPECT_EQ(Template("a{{ x }}b").render(nlohmann::ordered_json()), "ab");
  EXPECT_EQ(Template("a{{ x }}b").render(nlohmann::ordered_json::object()), "ab");
  EXPECT_THROW(Template("x").render(nlohmann::ordered_json::array()), Error);
}

TEST(JinjaApi, SyntaxErrorsThrowFromTheConstructor) {
  EXPECT_THROW(Template("{% if %}"), Error);
  try {
    Template t("ok\n{{ 1 +* 2 }}");
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()).rfind("template line 2: ", 0), 0u) << e.what();
  }
}

}  // namespace
}  // namespace dsinfer::jinja
