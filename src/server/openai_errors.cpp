#include "server/openai_errors.h"

#include <httplib.h>

#include <utility>

#include "core/error.h"

namespace dsinfer::server {

namespace {

ApiError make(int status, std::string message, std::string type, std::string code) {
  ApiError e;
  e.status = status;
  e.message = std::move(message);
  e.type = std::move(type);
  e.code = std::move(code);
  return e;
}

}  // namespace

ApiError bad_request(std::string message, std::string param) {
  ApiError e = make(400, std::move(message), "invalid_request_error", "");
  e.param = std::move(param);
  return e;
}

ApiError unauthorized() {
  return make(401, "Incorrect or missing API key: send \"Authorization: Bearer <key>\"", "invalid_request_error",
              "invalid_api_key");
}

ApiError model_not_found(const std::string& model) {
  ApiError e = make(404, cat("The model `", model, "` does not exist"), "invalid_request_error", "model_not_found");
  e.param = "model";
  return e;
}

ApiError route_not_found(const std::string& method, const std::string& path) {
  return make(404, cat("Invalid URL (", method, " ", path, ")"), "invalid_request_error", "not_found");
}

ApiError method_not_allowed(const std::string& method, const std::string& path) {
  return make(405, cat("Method ", method, " is not allowed for ", path), "invalid_request_error",
              "method_not_allowed");
}

ApiError payload_too_large(size_t limit) {
  return make(413, cat("The request body is larger than the limit of ", limit, " bytes"), "invalid_request_error",
              "request_too_large");
}

ApiError queue_full(const std::string& message) {
  return make(429, cat("The server is busy: ", message, "; retry later"), "rate_limit_error", "rate_limit_exceeded");
}

ApiError not_ready() { return make(503, "The model is still loading", "service_unavailable", "model_loading"); }

ApiError internal_error(const std::string& message) {
  return make(500, cat("Internal server error: ", message), "server_error", "");
}

ApiError http_error(int status, const std::string& message) {
  return make(status, message, status >= 500 ? "server_error" : "invalid_request_error", "");
}

Json error_body(const ApiError& e) {
  Json err = Json::object();
  err["message"] = e.message;
  err["type"] = e.type;
  err["param"] = e.param.empty() ? Json() : Json(e.param);
  err["code"] = e.code.empty() ? Json() : Json(e.code);
  return Json{{"error", std::move(err)}};
}

std::string dump_json(const Json& j) { return j.dump(-1, ' ', false, Json::error_handler_t::replace); }

void send_json(httplib::Response& res, int status, const Json& body) {
  res.status = status;
  res.set_content(dump_json(body), "application/json");
}

void send_error(httplib::Response& res, const ApiError& e) {
  if (e.status == 401) res.set_header("WWW-Authenticate", "Bearer");
  send_json(res, e.status, error_body(e));
}

}  // namespace dsinfer::server
