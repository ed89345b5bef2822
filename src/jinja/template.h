// A Jinja2-compatible template engine for chat templates.
//
// Templates are compiled with the settings Hugging Face transformers uses for
// chat templates: trim_blocks and lstrip_blocks on, no autoescaping, the
// loopcontrols extension (break/continue), and the globals raise_exception,
// namespace, range, dict and strftime_now. Undefined variables behave like
// Jinja2's default Undefined: they print as "" and are falsy, and using them
// in arithmetic, as an object or as a function is an error.
//
// Errors (syntax errors, raise_exception, unknown filters and tests, type
// errors, resource limits) are thrown as dsinfer::Error with a message that
// starts with "template line N: ".
#pragma once

#include <nlohmann/json.hpp>

#include <memory>
#include <string>

namespace dsinfer::jinja {

struct CompiledTemplate;

class Template {
 public:
  // Parses source; throws dsinfer::Error "template line N: ..." on syntax errors.
  explicit Template(std::string source);
  ~Template();
  Template(Template&&) noexcept;
  Template& operator=(Template&&) noexcept;

  // Renders with the context's keys as variables. ordered_json keeps the
  // key order of objects (what tojson prints); nlohmann::json sorts keys.
  // Throws dsinfer::Error (with the template line) on runtime errors.
  std::string render(const nlohmann::ordered_json& context) const;
  std::string render(const nlohmann::json& context) const;

 private:
  std::unique_ptr<CompiledTemplate> impl_;
};

}  // namespace dsinfer::jinja
