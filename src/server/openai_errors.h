// Errors in OpenAI's shape: {"error": {"message", "type", "param", "code"}}
// with the HTTP status that goes with them, and the JSON response helpers.
#pragma once

#include <exception>
#include <nlohmann/json.hpp>
#include <string>

namespace httplib {
struct Response;
}

namespace dsinfer::server {

using Json = nlohmann::ordered_json;

// Thrown by request parsing and handlers; http_server turns it into a response.
struct ApiError : std::exception {
  int status = 400;
  std::string message;
  std::string type = "invalid_request_error";
  std::string param;  // "" -> null
  std::string code;   // "" -> null
  const char* what() const noexcept override { return message.c_str(); }
};

// 400 invalid_request_error naming the offending field (param may be "").
ApiError bad_request(std::string message, std::string param = "");
ApiError unauthorized();
ApiError model_not_found(const std::string& model);
ApiError route_not_found(const std::string& method, const std::string& path);
ApiError method_not_allowed(const std::string& method, const std::string& path);
ApiError payload_too_large(size_t limit);
ApiError queue_full(const std::string& message);
ApiError not_ready();
ApiError internal_error(const std::string& message);
// Any other status (for errors httplib itself detects).
ApiError http_error(int status, const std::string& message);

Json error_body(const ApiError& e);
// Serialises without ever throwing: invalid UTF-8 becomes U+FFFD.
std::string dump_json(const Json& j);
void send_json(httplib::Response& res, int status, const Json& body);
void send_error(httplib::Response& res, const ApiError& e);

}  // namespace dsinfer::server
