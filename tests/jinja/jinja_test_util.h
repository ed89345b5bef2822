// Helpers for the template engine tests.
#pragma once

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <string>

#include "core/error.h"
#include "jinja/template.h"

namespace dsinfer::jinja::test {

// The variables the language tests render with.
inline const char* const kContext = R"({
  "d": {"a": 1, "b": [1, 2]},
  "xs": [3, 1, 2],
  "s": "Hello World",
  "n": null,
  "msgs": [{"role": "user", "content": "hi"},
           {"role": "assistant", "content": "yo",
            "tool_calls": [{"function": {"name": "f", "arguments": {"x": 1}}}]}],
  "messages": [{"role": "system", "content": "sys"}, {"role": "user", "content": "hi"}]
})";

inline std::string render(const std::string& source, const char* context = kContext) {
  return Template(source).render(nlohmann::ordered_json::parse(context));
}

// The message of the dsinfer::Error that parsing or rendering throws, or
// "<no error>".
inline std::string render_error(const std::string& source, const char* context = kContext) {
  try {
    render(source, context);
  } catch (const Error& e) {
    return e.what();
  }
  return "<no error>";
}

}  // namespace dsinfer::jinja::test
