#include "loadgen/load_stats.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <map>
#include <numeric>
#include <sstream>

namespace dsinfer::loadgen {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// Per client: tokens received over the span from its first send to its last response end.
double mean_client_rate(const std::vector<RequestRecord>& records) {
  struct Span {
    double begin = std::numeric_limits<double>::infinity();
    double end = 0;
    int64_t tokens = 0;
  };
  std::map<int, Span> spans;
  for (const RequestRecord& r : records) {
    Span& s = spans[r.client];
    s.begin = std::min(s.begin, r.start_s);
    s.end = std::max(s.end, r.start_s + r.e2e_s);
    if (r.ok) s.tokens += r.output_tokens;
  }
  double sum = 0;
  for (const auto& [client, s] : spans)
    if (s.end > s.begin) sum += static_cast<double>(s.tokens) / (s.end - s.begin);
  return spans.empty() ? 0 : sum / static_cast<double>(spans.size());
}

nlohmann::ordered_json to_json(const Distribution& d) {
  // NaN (no samples) becomes null.
  const auto num = [](double x) { return std::isnan(x) ? nlohmann::ordered_json() : nlohmann::ordered_json(x); };
  return {{"count", d.count}, {"mean", num(d.mean)}, {"p50", num(d.p50)}, {"p90", num(d.p90)}, {"p99", num(d.p99)}};
}

std::string ms(const Distribution& d) {
  char buf[160];
  std::snprintf(buf, sizeof buf, "mean %.1f  p50 %.1f  p90 %.1f  p99 %.1f ms (%zu samples)", d.mean * 1e3,
                d.p50 * 1e3, d.p90 * 1e3, d.p99 * 1e3, d.count);
  return buf;
}

// After the last client's first send and before any client's last response
// ended: the part of the run with every client busy. Empty (end <= begin)
// when no such time exists.
struct Window {
  double begin = 0, end = 0;
  bool holds(double t) const { return t >= begin && t < end; }
};

Window full_load_window(const std::vector<RequestRecord>& records) {
  std::map<int, std::pair<double, double>> spans;  // client -> (first send, last response end)
  for (const RequestRecord& r : records) {
    auto [it, fresh] = spans.try_emplace(r.client, r.start_s, r.start_s + r.e2e_s);
    it->second.first = std::min(it->second.first, r.start_s);
    it->second.second = std::max(it->second.second, r.start_s + r.e2e_s);
  }
  Window w{0, std::numeric_limits<double>::infinity()};
  for (const auto& [client, span] : spans) {
    w.begin = std::max(w.begin, span.first);
    w.end = std::min(w.end, span.second);
  }
  return spans.empty() ? Window{} : w;
}

// Output tokens that arrived inside the window, per second of it: each text
// chunk's arrival (send + TTFT + the gaps before it) counts as the request's
// tokens per chunk.
double window_tokens_per_s(const std::vector<RequestRecord>& records, const Window& w) {
  if (!(w.end > w.begin)) return 0;
  double tokens = 0;
  for (const RequestRecord& r : records) {
    if (!r.ok || r.ttft_s < 0) continue;
    const double per_chunk = static_cast<double>(r.output_tokens) / static_cast<double>(r.itl_s.size() + 1);
    double t = r.start_s + r.ttft_s;
    if (w.holds(t)) tokens += per_chunk;
    for (double gap : r.itl_s)
      if (w.holds(t += gap)) tokens += per_chunk;
  }
  return tokens / (w.end - w.begin);
}

}  // namespace

double percentile(std::vector<double> values, double q) {
  if (values.empty()) return kNaN;
  std::sort(values.begin(), values.end());
  const double pos = std::clamp(q, 0.0, 100.0) / 100.0 * static_cast<double>(values.size() - 1);
  const auto lo = static_cast<size_t>(std::floor(pos));
  const size_t hi = std::min(lo + 1, values.size() - 1);
  const double frac = pos - static_cast<double>(lo);
  return values[lo] + (values[hi] - values[lo]) * frac;
}

Distribution distribution(const std::vector<double>& values) {
  Distribution d;
  d.count = values.size();
  d.mean = values.empty() ? kNaN : std::accumulate(values.begin(), values.end(), 0.0) / static_cast<double>(d.count);
  d.p50 = percentile(values, 50);
  d.p90 = percentile(values, 90);
  d.p99 = percentile(values, 99);
  return d;
}

LoadSummary summarize(const std::vector<RequestRecord>& records, int clients, double wall_s) {
  LoadSummary s;
  s.clients = clients;
  s.requests = static_cast<int64_t>(records.size());
  s.wall_s = wall_s;
  std::vector<double> ttft, itl, e2e;
  int64_t prompt = 0;
  for (const RequestRecord& r : records) {
    if (!r.ok) {
      ++s.failed;
      if (s.first_error.empty()) s.first_error = r.error;
      continue;
    }
    ++s.ok;
    s.output_tokens += r.output_tokens;
    prompt += r.prompt_tokens;
    if (r.ttft_s >= 0) ttft.push_back(r.ttft_s);
    itl.insert(itl.end(), r.itl_s.begin(), r.itl_s.end());
    e2e.push_back(r.e2e_s);
  }
  s.mean_prompt_tokens = s.ok > 0 ? static_cast<double>(prompt) / static_cast<double>(s.ok) : 0;
  s.output_tokens_per_s = wall_s > 0 ? static_cast<double>(s.output_tokens) / wall_s : 0;
  s.client_output_tokens_per_s = mean_client_rate(records);
  s.ttft_s = distribution(ttft);
  const Window full = full_load_window(records);
  std::vector<double> full_ttft;
  for (const RequestRecord& r : records)
    if (r.ok && r.ttft_s >= 0 && full.holds(r.start_s)) full_ttft.push_back(r.ttft_s);
  s.ttft_full_load_s = distribution(full_ttft);
  s.full_load_s = std::max(0.0, full.end - full.begin);
  s.full_load_output_tokens_per_s = window_tokens_per_s(records, full);
  s.itl_s = distribution(itl);
  s.e2e_s = distribution(e2e);
  return s;
}

nlohmann::ordered_json to_json(const LoadSummary& s) {
  nlohmann::ordered_json j;
  j["clients"] = s.clients;
  j["requests"] = s.requests;
  j["ok"] = s.ok;
  j["failed"] = s.failed;
  j["first_error"] = s.first_error;
  j["wall_s"] = s.wall_s;
  j["output_tokens"] = s.output_tokens;
  j["mean_prompt_tokens"] = s.mean_prompt_tokens;
  j["output_tokens_per_s"] = s.output_tokens_per_s;
  j["client_output_tokens_per_s"] = s.client_output_tokens_per_s;
  j["full_load_s"] = s.full_load_s;
  j["full_load_output_tokens_per_s"] = s.full_load_output_tokens_per_s;
  j["ttft_s"] = to_json(s.ttft_s);
  j["ttft_full_load_s"] = to_json(s.ttft_full_load_s);
  j["itl_s"] = to_json(s.itl_s);
  j["e2e_s"] = to_json(s.e2e_s);
  return j;
}

std::string to_text(const LoadSummary& s) {
  std::ostringstream os;
  char rate[96];
  os << "clients: " << s.clients << "\n";
  os << "requests: " << s.ok << " ok, " << s.failed << " failed of " << s.requests << "\n";
  if (!s.first_error.empty()) os << "first error: " << s.first_error << "\n";
  std::snprintf(rate, sizeof rate, "%.2f s", s.wall_s);
  os << "wall time: " << rate << "\n";
  os << "output tokens: " << s.output_tokens << " (mean prompt " << s.mean_prompt_tokens << " tokens)\n";
  std::snprintf(rate, sizeof rate, "%.2f tokens/s (per client %.2f)", s.output_tokens_per_s,
                s.client_output_tokens_per_s);
  os << "output throughput: " << rate << "\n";
  std::snprintf(rate, sizeof rate, "%.2f tokens/s over %.2f s", s.full_load_output_tokens_per_s, s.full_load_s);
  os << "  while all clients were busy: " << rate << "\n";
  os << "time to first token: " << ms(s.ttft_s) << "\n";
  os << "  sent while all clients were busy: " << ms(s.ttft_full_load_s) << "\n";
  os << "inter-token latency: " << ms(s.itl_s) << "\n";
  os << "request latency: " << ms(s.e2e_s) << "\n";
  return os.str();
}

}  // namespace dsinfer::loadgen
