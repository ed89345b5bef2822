// GET /metrics: Prometheus text exposition of the HTTP status counters and
// the engine's statistics (tokens, latency histograms, queue, KV blocks,
// prefix cache).
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <string>

#include "engine/engine_stats.h"

namespace dsinfer::server {

// Responses by HTTP status code; safe to use from every HTTP thread.
class HttpCounters {
 public:
  void count(int status);
  std::map<int, int64_t> snapshot() const;

 private:
  mutable std::mutex mu_;
  std::map<int, int64_t> by_status_;
};

struct MetricsInput {
  std::map<int, int64_t> http;           // by status code
  const engine::EngineStats* stats = nullptr;  // null while the model loads
  int64_t total_blocks = 0;
};

std::string render_metrics(const MetricsInput& in);

}  // namespace dsinfer::server
