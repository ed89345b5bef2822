// Conversion between nlohmann JSON and template values, and the tojson
// serializer (Python's json.dumps) (internal header).
#pragma once

#include <nlohmann/json.hpp>

#include <optional>
#include <string>

#include "jinja/value.h"

namespace dsinfer::jinja {

// Objects keep their key order (ordered_json keeps the document's order;
// nlohmann::json has sorted keys already). Throws EvalError when nested
// deeper than kMaxValueDepth.
Value from_json(const nlohmann::ordered_json& j);
Value from_json(const nlohmann::json& j);

// json.dumps options.
struct JsonOptions {
  std::optional<std::string> indent;  // per-level indent; none: one line
  std::string item_sep = ", ";
  std::string key_sep = ": ";
  bool ensure_ascii = false;
  bool sort_keys = false;
};

// json.dumps(v, ...). Throws EvalError for values JSON cannot hold.
std::string to_json(const Value& v, const JsonOptions& opt);

}  // namespace dsinfer::jinja
