// dsinfer bench-serve: drives a running `dsinfer serve` (or any
// OpenAI-compatible server) with N concurrent streaming clients for a bounded
// number of requests and reports output tokens/s, time to first token and
// inter-token latency percentiles. With --sweep 1,16 it runs once per client
// count and prints the throughput ratio of the last run to the first.
#include <CLI/CLI.hpp>

#include <cstdio>
#include <iostream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <vector>

#include "cli/commands.h"
#include "core/error.h"
#include "loadgen/load_client.h"
#include "loadgen/load_stats.h"

namespace dsinfer::cli {

namespace {

struct BenchServeOptions {
  loadgen::LoadConfig load;
  std::vector<int> sweep;           // client counts, one run each (empty: --clients)
  int64_t requests_per_client = 0;  // > 0: each run sends this many per client instead of --requests
  bool allow_eos = false;
  double wait_s = 0;
  bool json = false;
};

struct Run {
  loadgen::LoadConfig config;
  loadgen::LoadSummary summary;
};

Run run_once(const BenchServeOptions& o, int clients) {
  Run r{o.load, {}};
  r.config.clients = clients;
  if (o.requests_per_client > 0) r.config.requests = o.requests_per_client * clients;
  r.config.ignore_eos = !o.allow_eos;
  const loadgen::LoadResult res = loadgen::run_load(r.config);
  r.summary = loadgen::summarize(res.records, clients, res.wall_s);
  return r;
}

nlohmann::ordered_json run_json(const Run& r) {
  nlohmann::ordered_json j = loadgen::to_json(r.summary);
  j["endpoint"] = loadgen::endpoint_path(r.config.endpoint);
  j["prompt_tokens"] = r.config.prompt_tokens;
  j["max_tokens"] = r.config.max_tokens;
  return j;
}

// Last run vs first: whole runs, or their full-load windows (with a ramp-up,
// the steady part; without one the two barely differ).
double throughput_ratio(const std::vector<Run>& runs, bool full_load = false) {
  const auto rate = [&](const Run& r) {
    return full_load ? r.summary.full_load_output_tokens_per_s : r.summary.output_tokens_per_s;
  };
  const double first = rate(runs.front());
  return first > 0 ? rate(runs.back()) / first : 0;
}

void print(const BenchServeOptions& o, const std::vector<Run>& runs) {
  if (o.json) {
    if (runs.size() == 1) {
      std::cout << run_json(runs[0]).dump() << "\n";
      return;
    }
    nlohmann::ordered_json j;
    j["runs"] = nlohmann::ordered_json::array();
    for (const Run& r : runs) j["runs"].push_back(run_json(r));
    j["output_tokens_per_s_ratio"] = throughput_ratio(runs);
    j["full_load_output_tokens_per_s_ratio"] = throughput_ratio(runs, true);
    std::cout << j.dump() << "\n";
    return;
  }
  for (const Run& r : runs) {
    std::cout << "== " << r.config.clients << " client(s), " << r.config.requests << " requests, "
              << loadgen::endpoint_path(r.config.endpoint) << ", prompt " << r.config.prompt_tokens << ", max_tokens "
              << r.config.max_tokens << " ==\n"
              << loadgen::to_text(r.summary);
  }
  if (runs.size() > 1) {
    char ratio[96];
    std::snprintf(ratio, sizeof ratio, "%.2fx (while all clients were busy: %.2fx)", throughput_ratio(runs),
                  throughput_ratio(runs, true));
    std::cout << "output tokens/s, " << runs.back().config.clients << " clients vs " << runs.front().config.clients
              << ": " << ratio << "\n";
  }
}

int run(const BenchServeOptions& o) {
  if (!loadgen::wait_ready(o.load.url, o.wait_s))
    fail("server at ", o.load.url, " is not ready (GET /health did not answer 200",
         o.wait_s > 0 ? cat(" within ", o.wait_s, " s") : std::string(), ")");
  std::vector<Run> runs;
  const std::vector<int> counts = o.sweep.empty() ? std::vector<int>{o.load.clients} : o.sweep;
  for (int clients : counts) runs.push_back(run_once(o, clients));
  print(o, runs);
  for (const Run& r : runs)
    if (r.summary.failed > 0) return kExitRuntime;
  return kExitOk;
}

void add_load_options(CLI::App& sub, BenchServeOptions& o) {
  loadgen::LoadConfig& l = o.load;
  sub.add_option("--url", l.url, "server address, http://HOST:PORT")->capture_default_str();
  sub.add_option("--api-key", l.api_key, "sent as \"Authorization: Bearer KEY\"");
  sub.add_option("--model", l.model, "the \"model\" field (default: none sent)");
  sub.add_option("--clients", l.clients, "concurrent streaming clients")->check(CLI::Range(1, 4096))->capture_default_str();
  sub.add_option("--requests", l.requests, "requests in total per run")
      ->check(CLI::Range(int64_t{1}, int64_t{1} << 24))
      ->capture_default_str();
  sub.add_option("--requests-per-client", o.requests_per_client, "requests per client per run (overrides --requests)")
      ->check(CLI::Range(int64_t{1}, int64_t{1} << 20));
  sub.add_option("--prompt-tokens", l.prompt_tokens, "prompt length (completions: token ids; chat: words)")
      ->check(CLI::Range(1, 1 << 20))
      ->capture_default_str();
  sub.add_option("--max-tokens", l.max_tokens, "tokens to generate per request")
      ->check(CLI::Range(1, 1 << 20))
      ->capture_default_str();
  sub.add_option("--endpoint", l.endpoint, "completions (token-id prompts) or chat (word prompts)")
      ->transform(CLI::CheckedTransformer(
          std::map<std::string, loadgen::Endpoint>{{"completions", loadgen::Endpoint::Completions},
                                                   {"chat", loadgen::Endpoint::Chat}}))
      ->default_str("completions");
  sub.add_option("--seed", l.seed, "seed of the random prompts")->capture_default_str();
  sub.add_option("--prompt-id-max", l.prompt_id_max, "completions prompt ids are drawn below this")
      ->check(CLI::Range(1, 1 << 30))
      ->capture_default_str();
  sub.add_option("--ramp-up", l.ramp_up_s, "seconds over which the clients start, evenly spaced (0: all at once)")
      ->check(CLI::Range(0.0, 3600.0))
      ->capture_default_str();
  sub.add_option("--timeout", l.timeout_s, "seconds to wait for data on a connection")
      ->check(CLI::Range(1, 86400))
      ->capture_default_str();
}

}  // namespace

Command add_bench_serve_command(CLI::App& app) {
  auto o = std::make_shared<BenchServeOptions>();
  Command c;
  c.sub = app.add_subcommand("bench-serve",
                             "Serving benchmark: N concurrent streaming clients against a running server "
                             "(tokens/s, time to first token, inter-token latency)");
  add_load_options(*c.sub, *o);
  c.sub->add_option("--sweep", o->sweep, "client counts to run one after another, e.g. 1,16 (prints the ratio)")
      ->delimiter(',')
      ->check(CLI::Range(1, 4096));
  c.sub->add_flag("--allow-eos", o->allow_eos, "let requests end at EOS (default: ignore_eos, exactly max_tokens)");
  c.sub->add_option("--wait", o->wait_s, "seconds to wait for GET /health to answer 200 first")
      ->check(CLI::Range(0.0, 86400.0))
      ->capture_default_str();
  c.sub->add_flag("--json", o->json, "print one JSON object");
  c.run = [o] { return run(*o); };
  return c;
}

}  // namespace dsinfer::cli
