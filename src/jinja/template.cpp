#include "jinja/template.h"

#include "core/error.h"
#include "jinja/interp.h"
#include "jinja/json.h"
#include "jinja/parser.h"

namespace dsinfer::jinja {

struct CompiledTemplate {
  Body body;
};

Template::Template(std::string source) : impl_(std::make_unique<CompiledTemplate>()) {
  impl_->body = parse_template(source);
}

Template::~Template() = default;
Template::Template(Template&&) noexcept = default;
Template& Template::operator=(Template&&) noexcept = default;

namespace {

template <typename Json>
std::string render_impl(const Body& body, const Json& context) {
  if (!context.is_object() && !context.is_null()) fail("template context must be a JSON object");
  auto root = std::make_shared<Scope>();
  try {
    if (context.is_object()) {
      for (auto it = context.begin(); it != context.end(); ++it) root->vars[it.key()] = from_json(it.value());
    }
  } catch (const EvalError& e) {
    fail("template context: ", e.what());
  }
  Interp in(root);
  try {
    in.exec_body(body);
  } catch (const EvalError& e) {
    fail("template line ", in.line, ": ", e.what());
  }
  return in.take_output();
}

}  // namespace

std::string Template::render(const nlohmann::ordered_json& context) const { return render_impl(impl_->body, context); }

std::string Template::render(const nlohmann::json& context) const { return render_impl(impl_->body, context); }

}  // namespace dsinfer::jinja
