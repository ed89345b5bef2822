// Data-driven check against Jinja2: every entry of
// ../shared/testdata/templates/renders.json (real chat templates of the
// models we serve, rendered by Jinja2 the way transformers does) must render
// byte for byte the same, or fail where Jinja2 failed.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <fstream>
#include <iterator>
#include <map>
#include <sstream>
#include <string>

#include "common/testdata.h"
#include "core/error.h"
#include "jinja/template.h"

namespace dsinfer::jinja::test {
namespace {

using Json = nlohmann::ordered_json;

std::string read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  EXPECT_TRUE(f.good()) << "cannot open " << path;
  return std::string(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
}

// The variables transformers passes: messages, tools, documents=None,
// add_generation_prompt, the special tokens the tokenizer has, extra kwargs.
Json context_of(const Json& entry) {
  Json ctx = Json::object();
  ctx["messages"] = entry.at("messages");
  ctx["tools"] = entry.at("tools");
  ctx["documents"] = nullptr;
  ctx["add_generation_prompt"] = entry.at("add_generation_prompt");
  for (const char* tok : {"bos_token", "eos_token"}) {
    if (!entry.at(tok).is_null()) ctx[tok] = entry.at(tok);
  }
  for (const auto& [k, v] : entry.at("extra_context").items()) ctx[k] = v;
  return ctx;
}

// Empty when the entry passes, else what went wrong.
std::string check_entry(const std::string& dir, const Json& entry, std::map<std::string, Template>& cache) {
  const std::string name = entry.at("template").get<std::string>();
  std::string rendered;
  try {
    auto it = cache.find(name);
    if (it == cache.end()) it = cache.emplace(name, Template(read_file(dir + "/templates/" + name))).first;
    rendered = it->second.render(context_of(entry));
  } catch (const Error& e) {
    if (entry.at("error").is_null()) return std::string("unexpected error: ") + e.what();
    std::string want = entry.at("error").get<std::string>();
    // raise_exception's message is exact; other errors only have to fail.
    const std::string prefix = "TemplateError: ";
    if (want.rfind(prefix, 0) == 0 && std::string(e.what()).find(want.substr(prefix.size())) == std::string::npos) {
      return "error message \"" + std::string(e.what()) + "\" does not contain \"" + want.substr(prefix.size()) + "\"";
    }
    if (std::string(e.what()).rfind("template line ", 0) != 0) return "error without a line: " + std::string(e.what());
    return "";
  }
  if (!entry.at("error").is_null()) return "rendered, but Jinja2 failed with " + entry.at("error").get<std::string>();
  const std::string expected = entry.at("expected").get<std::string>();
  if (rendered == expected) return "";
  size_t i = 0;
  while (i < rendered.size() && i < expected.size() && rendered[i] == expected[i]) ++i;
  std::ostringstream os;
  os << "differs at byte " << i << "\n  expected: " << Json(expected).dump() << "\n  rendered: " << Json(rendered).dump();
  return os.str();
}

TEST(JinjaRenders, EveryEntryMatchesJinja2) {
  REQUIRE_TESTDATA(td);
  Json entries = Json::parse(read_file(td + "/templates/renders.json"));
  ASSERT_TRUE(entries.is_array());
  ASSERT_EQ(entries.size(), 110u) << "renders.json changed: update this count";
  std::map<std::string, Template> cache;
  std::string failures;
  int failed = 0, errors_expected = 0;
  for (const auto& entry : entries) {
    if (!entry.at("error").is_null()) ++errors_expected;
    std::string problem = check_entry(td, entry, cache);
    if (problem.empty()) continue;
    ++failed;
    failures.append(1, '\n').append(entry.at("template").get<std::string>()).append(" / ");
    failures.append(entry.at("case").get<std::string>()).append(": ").append(problem);
  }
  EXPECT_EQ(failed, 0) << failed << " of " << entries.size() << " renders differ from Jinja2:" << failures;
  EXPECT_GT(errors_expected, 0);
  EXPECT_EQ(cache.size(), 7u);  // every template file was exercised
}

}  // namespace
}  // namespace dsinfer::jinja::test
