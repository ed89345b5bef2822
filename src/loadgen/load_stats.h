// Statistics of a serving load run: percentiles, and the summary that
// `dsinfer bench-serve` prints (text or JSON) from per-request records.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace dsinfer::loadgen {

// The q-th percentile (0 <= q <= 100) with linear interpolation between the
// closest ranks (numpy's default): position q/100 * (n - 1) in sorted order.
// NaN for an empty input.
double percentile(std::vector<double> values, double q);

struct Distribution {
  size_t count = 0;
  double mean = 0;  // NaN when count == 0, like the percentiles
  double p50 = 0;
  double p90 = 0;
  double p99 = 0;
};
Distribution distribution(const std::vector<double>& values);

// What one streaming request saw. Times are seconds; start_s is relative to
// the start of the run.
struct RequestRecord {
  int client = 0;
  bool ok = false;
  int status = 0;             // HTTP status, 0 when no response came
  std::string error;          // why it failed ("" when ok)
  double start_s = 0;
  double ttft_s = -1;         // send -> first chunk carrying text; -1 when none came
  double e2e_s = 0;           // send -> end of the response
  std::vector<double> itl_s;  // gaps between consecutive chunks carrying text
  int64_t output_tokens = 0;  // usage.completion_tokens, else the chunks carrying text
  int64_t prompt_tokens = 0;  // usage.prompt_tokens, 0 when the server sent no usage
  bool usage_seen = false;
};

struct LoadSummary {
  int clients = 0;
  int64_t requests = 0;
  int64_t ok = 0;
  int64_t failed = 0;
  std::string first_error;
  double wall_s = 0;                     // first send -> last response end
  int64_t output_tokens = 0;             // over successful requests
  double mean_prompt_tokens = 0;
  double output_tokens_per_s = 0;        // output_tokens / wall_s
  double client_output_tokens_per_s = 0; // mean over clients of their tokens / their busy span
  // The full-load window: after the last client's first send and before any
  // client's last response ended (a ramp-up's steady part).
  double full_load_s = 0;
  double full_load_output_tokens_per_s = 0;  // tokens streamed inside the window / its length
  Distribution ttft_s;
  Distribution ttft_full_load_s;  // requests sent inside the full-load window
  Distribution itl_s;
  Distribution e2e_s;
};

LoadSummary summarize(const std::vector<RequestRecord>& records, int clients, double wall_s);

nlohmann::ordered_json to_json(const LoadSummary& s);
// Several lines of "name: value" for people.
std::string to_text(const LoadSummary& s);

}  // namespace dsinfer::loadgen
