#include "server/metrics.h"

#include <map>
#include <sstream>

namespace dsinfer::server {

void HttpCounters::count(int status) {
  std::lock_guard<std::mutex> lock(mu_);
  ++by_status_[status];
}

std::map<int, int64_t> HttpCounters::snapshot() const {
  std::lock_guard<std::mutex> lock(mu_);
  return by_status_;
}

namespace {

void header(std::ostream& os, const char* name, const char* type, const char* help) {
  os << "# HELP " << name << " " << help << "\n# TYPE " << name << " " << type << "\n";
}

template <typename T>
void single(std::ostream& os, const char* name, const char* type, const char* help, T value) {
  header(os, name, type, help);
  os << name << " " << value << "\n";
}

void histogram(std::ostream& os, const char* name, const char* help, const engine::Histogram& h) {
  header(os, name, "histogram", help);
  for (size_t i = 0; i < h.bounds.size(); ++i) os << name << "_bucket{le=\"" << h.bounds[i] << "\"} " << h.counts[i] << "\n";
  os << name << "_bucket{le=\"+Inf\"} " << h.counts.back() << "\n";
  os << name << "_sum " << h.sum << "\n" << name << "_count " << h.count << "\n";
}

void engine_metrics(std::ostream& os, const engine::EngineStats& s, int64_t total_blocks) {
  header(os, "dsinfer_requests_finished_total", "counter", "Engine requests finished, by finish reason");
  // Every known reason from the start (at 0), so series exist before the first request ends.
  std::map<std::string, int64_t> finished = {{"stop", 0}, {"length", 0}, {"cancelled", 0}};
  for (const auto& [reason, n] : s.finished) finished[reason] = n;
  for (const auto& [reason, n] : finished) os << "dsinfer_requests_finished_total{finish_reason=\"" << reason << "\"} " << n << "\n";
  single(os, "dsinfer_prompt_tokens_total", "counter", "Prompt tokens computed (prefill)", s.prompt_tokens);
  single(os, "dsinfer_generation_tokens_total", "counter", "Tokens generated", s.generation_tokens);
  histogram(os, "dsinfer_time_to_first_token_seconds", "Time from arrival to the first generated token", s.ttft);
  histogram(os, "dsinfer_inter_token_latency_seconds", "Time between consecutive generated tokens", s.itl);
  single(os, "dsinfer_requests_running", "gauge", "Requests in the running batch", s.running);
  single(os, "dsinfer_requests_waiting", "gauge", "Requests waiting to be scheduled", s.waiting);
  single(os, "dsinfer_kv_blocks_used", "gauge", "KV cache blocks held by requests", s.blocks_used);
  single(os, "dsinfer_kv_blocks_free", "gauge", "KV cache blocks free (including cached prefixes)", s.blocks_free);
  single(os, "dsinfer_kv_blocks_total", "gauge", "KV cache blocks", total_blocks);
  single(os, "dsinfer_prefix_cache_queried_tokens_total", "counter", "Prompt tokens looked up in the prefix cache",
         s.prefix_queried_tokens);
  single(os, "dsinfer_prefix_cache_hit_tokens_total", "counter", "Prompt tokens found in the prefix cache",
         s.prefix_hit_tokens);
  const double rate = s.prefix_queried_tokens > 0
                          ? static_cast<double>(s.prefix_hit_tokens) / static_cast<double>(s.prefix_queried_tokens)
                          : 0.0;
  single(os, "dsinfer_prefix_cache_hit_rate", "gauge", "Prefix cache hit tokens / queried tokens", rate);
  single(os, "dsinfer_preemptions_total", "counter", "Sequences preempted for lack of KV blocks", s.preemptions);
}

}  // namespace

std::string render_metrics(const MetricsInput& in) {
  std::ostringstream os;
  os.precision(10);
  header(os, "dsinfer_http_requests_total", "counter", "HTTP responses by status code");
  for (const auto& [code, n] : in.http) os << "dsinfer_http_requests_total{code=\"" << code << "\"} " << n << "\n";
  single(os, "dsinfer_model_ready", "gauge", "1 when the model is loaded and serving", in.stats ? 1 : 0);
  if (in.stats) engine_metrics(os, *in.stats, in.total_blocks);
  return os.str();
}

}  // namespace dsinfer::server
