// The load generator of `dsinfer bench-serve`: N client threads, each with its
// own keep-alive HTTP connection, issue streaming OpenAI requests back to back
// until a total number of requests has been sent, and record per request the
// time to first token, the gaps between streamed chunks and the token count.
// Only HTTP: nothing here knows the engine.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "loadgen/load_stats.h"

namespace dsinfer::loadgen {

enum class Endpoint { Completions, Chat };

struct LoadConfig {
  std::string url = "http://127.0.0.1:8000";  // scheme://host:port of the server
  std::string api_key;                        // sent as "Authorization: Bearer KEY" when set
  std::string model;                          // "model" field; omitted when empty
  Endpoint endpoint = Endpoint::Completions;
  int clients = 16;
  int64_t requests = 64;      // in total, over all clients
  int prompt_tokens = 128;    // completions: exactly this many ids; chat: about this many words
  int max_tokens = 64;
  bool ignore_eos = true;     // ask for exactly max_tokens tokens
  uint64_t seed = 0;          // prompts depend only on (seed, request index)
  int prompt_id_max = 10000;  // completions prompt ids are drawn from [0, prompt_id_max)
  int timeout_s = 600;        // per read on a connection
  // Client i sends its first request ramp_up_s * i / clients after the start,
  // so that a closed loop of equal requests reaches a steady state instead of
  // every client arriving at once (0: all at once, the burst).
  double ramp_up_s = 0;
};

// The JSON body of request `index` (0-based): a streaming request with usage
// at the end, a prompt of its own (so prefix caching cannot share it).
nlohmann::json request_body(const LoadConfig& c, int64_t index);
const char* endpoint_path(Endpoint e);

// Splits a server-sent event stream that arrives in arbitrary pieces into the
// JSON of its "data:" lines.
class SseReader {
 public:
  // The events completed by this piece, in order.
  std::vector<nlohmann::json> feed(const char* data, size_t n);
  bool done() const { return done_; }            // saw "data: [DONE]"
  const std::string& malformed() const { return malformed_; }  // first bad data line, "" if none

 private:
  void take_event(const std::string& block, std::vector<nlohmann::json>& out);

  std::string buf_;
  bool done_ = false;
  std::string malformed_;
};

struct LoadResult {
  std::vector<RequestRecord> records;  // in request order
  double wall_s = 0;                   // first send -> last response end
};

// Runs the whole load; throws dsinfer::Error for an unusable URL.
LoadResult run_load(const LoadConfig& c);

// Polls GET /health until it answers 200 (true) or timeout_s pass (false).
bool wait_ready(const std::string& url, double timeout_s);

}  // namespace dsinfer::loadgen
