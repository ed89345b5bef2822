#include "server/request_parse.h"

#include <cmath>
#include <limits>

#include "core/error.h"

namespace dsinfer::server {

namespace {

constexpr int64_t kInt64Max = std::numeric_limits<int64_t>::max();
constexpr int64_t kInt32Max = std::numeric_limits<int32_t>::max();
constexpr size_t kMaxStops = 16;
constexpr size_t kMaxStopBytes = 1024;
constexpr int kMaxDepth = 64;

const Json* find(const Json& body, const char* key) {
  auto it = body.find(key);
  if (it == body.end() || it->is_null()) return nullptr;
  return &*it;
}

// A number in [lo, hi] (lo excluded when lo_open).
struct Bounds {
  double lo;
  double hi;
  bool lo_open = false;
};

double number_field(const Json& body, const char* key, double def, Bounds b) {
  const Json* v = find(body, key);
  if (!v) return def;
  if (!v->is_number()) throw bad_request(cat("'", key, "' must be a number"), key);
  const double x = v->get<double>();
  const bool low = b.lo_open ? !(x > b.lo) : !(x >= b.lo);
  if (!std::isfinite(x) || low || x > b.hi)
    throw bad_request(cat("'", key, "' must be in ", b.lo_open ? "(" : "[", b.lo, ", ", b.hi, "], got ", v->dump()),
                      key);
  return x;
}

std::vector<std::string> stop_strings(const Json& body) {
  const Json* v = find(body, "stop");
  if (!v) return {};
  std::vector<std::string> out;
  if (v->is_string()) {
    out.push_back(v->get<std::string>());
  } else if (v->is_array()) {
    if (v->size() > kMaxStops) throw bad_request(cat("'stop' may hold at most ", kMaxStops, " strings"), "stop");
    for (const auto& s : *v) {
      if (!s.is_string()) throw bad_request("'stop' must be a string or a list of strings", "stop");
      out.push_back(s.get<std::string>());
    }
  } else {
    throw bad_request("'stop' must be a string or a list of strings", "stop");
  }
  for (const auto& s : out)
    if (s.empty() || s.size() > kMaxStopBytes)
      throw bad_request(cat("stop strings must be 1 to ", kMaxStopBytes, " bytes long"), "stop");
  return out;
}

engine::SamplingParams sampling(const Json& body) {
  engine::SamplingParams s;
  s.temperature = static_cast<float>(number_field(body, "temperature", 1.0, {0, 2}));
  s.top_p = static_cast<float>(number_field(body, "top_p", 1.0, {0, 1, true}));
  s.min_p = static_cast<float>(number_field(body, "min_p", 0.0, {0, 1}));
  s.presence_penalty = static_cast<float>(number_field(body, "presence_penalty", 0.0, {-2, 2}));
  s.frequency_penalty = static_cast<float>(number_field(body, "frequency_penalty", 0.0, {-2, 2}));
  s.repetition_penalty = static_cast<float>(number_field(body, "repetition_penalty", 1.0, {0, 10, true}));
  s.top_k = static_cast<int32_t>(int_field(body, "top_k", 0, {-1, kInt32Max}));
  if (const Json* seed = find(body, "seed")) {
    if (seed->is_number_unsigned()) {
      s.seed = seed->get<uint64_t>();
    } else {
      s.seed = static_cast<uint64_t>(as_int(*seed, "seed", {std::numeric_limits<int64_t>::min(), kInt64Max}));
    }
    s.has_seed = true;
  }
  return s;
}

// logprobs: a bool (+ top_logprobs 0..20) for chat, an int 0..5 for completions.
int32_t top_logprobs(const Json& body, Endpoint ep) {
  if (ep == Endpoint::Completions) return static_cast<int32_t>(int_field(body, "logprobs", -1, {0, 5}));
  const bool on = bool_field(body, "logprobs", false);
  const int64_t top = int_field(body, "top_logprobs", -1, {0, 20});
  if (top >= 0 && !on) throw bad_request("'top_logprobs' needs 'logprobs' set to true", "top_logprobs");
  return on ? static_cast<int32_t>(std::max<int64_t>(top, 0)) : -1;
}

void stream_fields(const Json& body, GenerationParams& p) {
  p.stream = bool_field(body, "stream", false);
  const Json* opts = find(body, "stream_options");
  if (!opts) return;
  if (!opts->is_object()) throw bad_request("'stream_options' must be an object", "stream_options");
  if (!p.stream) throw bad_request("'stream_options' is only allowed when 'stream' is true", "stream_options");
  p.include_usage = bool_field(*opts, "include_usage", false);
}

std::optional<int64_t> max_tokens(const Json& body, Endpoint ep) {
  const IntRange r{1, kInt64Max};
  if (ep == Endpoint::Chat && find(body, "max_completion_tokens"))
    return int_field(body, "max_completion_tokens", 0, r);
  if (find(body, "max_tokens")) return int_field(body, "max_tokens", 0, r);
  return std::nullopt;
}

void unsupported_fields(const Json& body) {
  if (const Json* bias = find(body, "logit_bias"); bias && !(bias->is_object() && bias->empty()))
    throw bad_request("'logit_bias' is not supported", "logit_bias");
  if (const Json* rf = find(body, "response_format")) {
    if (!rf->is_object() || rf->value("type", Json()) != Json("text"))
      throw bad_request("'response_format' other than {\"type\": \"text\"} is not supported", "response_format");
  }
}

}  // namespace

Json parse_body(const std::string& body) {
  // Deeply nested values would only reach templates and destructors as recursion.
  const auto depth_limit = [](int depth, Json::parse_event_t, Json&) {
    if (depth > kMaxDepth) throw bad_request(cat("The request body nests deeper than ", kMaxDepth, " levels"));
    return true;
  };
  Json j;
  try {
    j = Json::parse(body, depth_limit);
  } catch (const Json::exception& e) {
    throw bad_request(cat("The request body is not valid JSON: ", e.what()));
  }
  if (!j.is_object()) throw bad_request("The request body must be a JSON object");
  return j;
}

void check_model(const Json& body, const std::string& served_name) {
  const Json* m = find(body, "model");
  if (!m) return;
  if (!m->is_string()) throw bad_request("'model' must be a string", "model");
  if (m->get<std::string>() != served_name) throw model_not_found(m->get<std::string>());
}

bool bool_field(const Json& body, const char* key, bool def) {
  const Json* v = find(body, key);
  if (!v) return def;
  if (!v->is_boolean()) throw bad_request(cat("'", key, "' must be a boolean"), key);
  return v->get<bool>();
}

int64_t as_int(const Json& v, const std::string& name, IntRange r) {
  if (!v.is_number()) throw bad_request(cat("'", name, "' must be an integer"), name);
  const auto range_error = [&] {
    return bad_request(cat("'", name, "' must be in [", r.lo, ", ", r.hi, "], got ", v.dump()), name);
  };
  int64_t x = 0;
  if (v.is_number_unsigned()) {
    const auto u = v.get<uint64_t>();
    if (u > static_cast<uint64_t>(kInt64Max)) throw range_error();
    x = static_cast<int64_t>(u);
  } else if (v.is_number_integer()) {
    x = v.get<int64_t>();
  } else {
    const double d = v.get<double>();
    if (std::floor(d) != d) throw bad_request(cat("'", name, "' must be an integer, got ", v.dump()), name);
    if (!(d >= -9.2e18 && d <= 9.2e18)) throw range_error();
    x = static_cast<int64_t>(d);
  }
  if (x < r.lo || x > r.hi) throw range_error();
  return x;
}

int64_t int_field(const Json& body, const char* key, int64_t def, IntRange r) {
  const Json* v = find(body, key);
  return v ? as_int(*v, key, r) : def;
}

void reject_field(const Json& body, const char* key, const char* why) {
  if (find(body, key)) throw bad_request(cat("'", key, "' is not supported", why), key);
}

GenerationParams parse_generation(const Json& body, Endpoint ep) {
  GenerationParams p;
  p.request.sampling = sampling(body);
  p.request.stop = stop_strings(body);
  p.request.top_logprobs = top_logprobs(body, ep);
  p.request.ignore_eos = bool_field(body, "ignore_eos", false);
  p.request.skip_special_tokens = bool_field(body, "skip_special_tokens", true);
  p.max_tokens = max_tokens(body, ep);
  p.default_max_tokens = ep == Endpoint::Completions ? 16 : -1;
  p.n = static_cast<int>(int_field(body, "n", 1, {1, 16}));
  stream_fields(body, p);
  unsupported_fields(body);
  try {
    engine::validate(p.request.sampling);
  } catch (const Error& e) {
    throw bad_request(e.what());
  }
  return p;
}

void fit_max_tokens(GenerationParams& p, int64_t prompt_len, int64_t max_model_len) {
  const char* what = p.max_tokens ? "max_tokens" : "";
  if (prompt_len >= max_model_len)
    throw bad_request(cat("This model's maximum context length is ", max_model_len, " tokens, but the prompt has ",
                          prompt_len, " tokens (at least one token must be left to generate)"),
                      "");
  const int64_t room = max_model_len - prompt_len;
  if (!p.max_tokens) {
    p.request.max_tokens = p.default_max_tokens < 0 ? room : std::min(p.default_max_tokens, room);
    return;
  }
  if (*p.max_tokens > room)
    throw bad_request(cat("This model's maximum context length is ", max_model_len, " tokens. However, you requested ",
                          prompt_len, " + ", *p.max_tokens, " tokens (", prompt_len, " in the prompt, ", *p.max_tokens,
                          " for the completion). Reduce the prompt or max_tokens."),
                      what);
  p.request.max_tokens = *p.max_tokens;
}

}  // namespace dsinfer::server
