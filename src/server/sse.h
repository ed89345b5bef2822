// Writing a Generation out as it runs: server-sent events in OpenAI's chunk
// format ("data: {json}\n\n" ... "data: [DONE]\n\n") or one JSON body. Both
// go through httplib's chunked content provider on the HTTP thread; a failed
// write (the client went away) ends the response, which cancels the
// unfinished engine requests.
#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "server/generation.h"
#include "server/openai_errors.h"

namespace httplib {
struct Response;
}

namespace dsinfer::server {

// Turns outputs into one endpoint's JSON; used on one HTTP thread only.
class ResponseFormatter {
 public:
  virtual ~ResponseFormatter() = default;
  // Chunks streamed before any output (the assistant role, echoed prompts).
  virtual std::vector<Json> start() = 0;
  // Chunks for one output; also accumulates what body() returns.
  virtual std::vector<Json> feed(const ChoiceOutput& o) = 0;
  // The last chunk when stream_options.include_usage: no choices, the usage.
  virtual Json usage_chunk() const = 0;
  // The whole non-streamed response once every choice finished.
  virtual Json body() const = 0;
};

struct ResponsePlan {
  std::shared_ptr<Generation> generation;
  std::shared_ptr<ResponseFormatter> formatter;
  bool stream = false;
  bool include_usage = false;
  const std::atomic<bool>* stopping = nullptr;  // the server is shutting down
};

std::string sse_event(const Json& chunk);
inline constexpr std::string_view kSseDone = "data: [DONE]\n\n";

// Sets res up to write the plan's outputs as they arrive (200, chunked).
void respond(httplib::Response& res, ResponsePlan plan);

}  // namespace dsinfer::server
