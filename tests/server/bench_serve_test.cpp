// The load generator behind `dsinfer bench-serve`: percentiles and SSE
// parsing on known inputs, then a real load (concurrent streaming clients)
// against the in-process server. No assertions about speed.
#include <gtest/gtest.h>

#include <cmath>
#include <set>

#include "common/testdata.h"
#include "loadgen/load_client.h"
#include "loadgen/load_stats.h"
#include "server/server_harness.h"

namespace dsinfer::server::test {
namespace {

using loadgen::percentile;

TEST(BenchServePercentile, InterpolatesBetweenRanks) {
  EXPECT_DOUBLE_EQ(percentile({5, 1, 4, 2, 3}, 50), 3);  // unsorted input
  EXPECT_DOUBLE_EQ(percentile({10, 20, 30, 40}, 50), 25);
  EXPECT_DOUBLE_EQ(percentile({10, 20, 30, 40}, 90), 37);  // position 2.7
  EXPECT_DOUBLE_EQ(percentile({10, 20, 30, 40}, 0), 10);
  EXPECT_DOUBLE_EQ(percentile({10, 20, 30, 40}, 100), 40);
  EXPECT_DOUBLE_EQ(percentile({7}, 99), 7);
  std::vector<double> hundred;
  for (int i = 1; i <= 101; ++i) hundred.push_back(i);
  EXPECT_DOUBLE_EQ(percentile(hundred, 99), 100);
  EXPECT_TRUE(std::isnan(percentile({}, 50)));
}

TEST(BenchServePercentile, DistributionSummary) {
  const loadgen::Distribution d = loadgen::distribution({0.4, 0.1, 0.3, 0.2});
  EXPECT_EQ(d.count, 4u);
  EXPECT_DOUBLE_EQ(d.mean, 0.25);
  EXPECT_DOUBLE_EQ(d.p50, 0.25);
  EXPECT_NEAR(d.p90, 0.37, 1e-12);
  EXPECT_NEAR(d.p99, 0.397, 1e-12);
  EXPECT_EQ(loadgen::distribution({}).count, 0u);
  EXPECT_TRUE(std::isnan(loadgen::distribution({}).p50));
}

loadgen::RequestRecord record(int client, double start, double e2e, double ttft) {
  loadgen::RequestRecord r;
  r.client = client;
  r.ok = true;
  r.status = 200;
  r.start_s = start;
  r.e2e_s = e2e;
  r.ttft_s = ttft;
  return r;
}

// Client 0 is busy over [0, 20), client 1 over [5, 25): only requests sent in
// [5, 20) saw both clients busy; a failed one there has no TTFT to count.
TEST(BenchServeSummary, FullLoadTtftCountsRequestsSentWhileAllClientsWereBusy) {
  std::vector<loadgen::RequestRecord> recs = {record(0, 0, 10, 1.0), record(1, 5, 10, 3.0), record(0, 10, 10, 2.0),
                                              record(1, 15, 10, 4.0), record(1, 19, 1, 9.0)};
  recs.back().ok = false;
  recs.back().ttft_s = -1;
  const loadgen::LoadSummary s = loadgen::summarize(recs, 2, 25);
  EXPECT_EQ(s.ttft_s.count, 4u);
  EXPECT_EQ(s.ttft_full_load_s.count, 3u);
  EXPECT_DOUBLE_EQ(s.ttft_full_load_s.p50, 3.0);
  EXPECT_DOUBLE_EQ(s.ttft_full_load_s.mean, 3.0);
  EXPECT_EQ(loadgen::to_json(s)["ttft_full_load_s"]["count"], 3);
  EXPECT_DOUBLE_EQ(s.full_load_s, 15);
}

// Chunks arrive at send + TTFT + the gaps; those inside [5, 20) count, each as
// its request's tokens per chunk.
TEST(BenchServeSummary, FullLoadThroughputCountsChunksInsideTheWindow) {
  std::vector<loadgen::RequestRecord> recs = {record(0, 0, 20, 4.0), record(1, 5, 20, 1.0)};
  recs[0].itl_s = {2.0, 10.0, 1.0};  // chunks at 4, 6, 16, 17: three inside
  recs[0].output_tokens = 8;         // 2 tokens a chunk
  recs[1].itl_s = {20.0};            // chunks at 6, 26: one inside
  recs[1].output_tokens = 2;
  const loadgen::LoadSummary s = loadgen::summarize(recs, 2, 25);
  EXPECT_DOUBLE_EQ(s.full_load_s, 15);
  EXPECT_DOUBLE_EQ(s.full_load_output_tokens_per_s, (3 * 2 + 1 * 1) / 15.0);
}

std::vector<nlohmann::json> feed(loadgen::SseReader& r, const std::string& piece) {
  return r.feed(piece.data(), piece.size());
}

TEST(BenchServeSse, EventsSplitAcrossPieces) {
  loadgen::SseReader r;
  EXPECT_TRUE(feed(r, ": keep-alive\n\ndata: {\"a\":").empty());
  const auto events = feed(r, "1}\r\n\r\ndata: {\"b\":2}\n\ndata: [DO");
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0]["a"], 1);
  EXPECT_EQ(events[1]["b"], 2);
  EXPECT_FALSE(r.done());
  EXPECT_TRUE(feed(r, "NE]\n\n").empty());
  EXPECT_TRUE(r.done());
  EXPECT_TRUE(r.malformed().empty());
  feed(r, "data: {oops\n\n");
  EXPECT_EQ(r.malformed(), "{oops");
}

TEST(BenchServeBody, PromptsAreSeededDistinctAndBounded) {
  loadgen::LoadConfig c;
  c.prompt_tokens = 128;
  c.prompt_id_max = 500;
  c.max_tokens = 7;
  const nlohmann::json a = loadgen::request_body(c, 3);
  ASSERT_EQ(a["prompt"].size(), 128u);
  for (const auto& id : a["prompt"]) {
    EXPECT_GE(id.get<int>(), 0);
    EXPECT_LT(id.get<int>(), 500);
  }
  EXPECT_EQ(a["prompt"], loadgen::request_body(c, 3)["prompt"]);
  EXPECT_NE(a["prompt"], loadgen::request_body(c, 4)["prompt"]);
  EXPECT_EQ(a["max_tokens"], 7);
  EXPECT_EQ(a["stream"], true);
  EXPECT_EQ(a["stream_options"]["include_usage"], true);
  EXPECT_FALSE(a.contains("model"));
  c.endpoint = loadgen::Endpoint::Chat;
  const nlohmann::json chat = loadgen::request_body(c, 3);
  ASSERT_EQ(chat["messages"].size(), 1u);
  EXPECT_FALSE(chat["messages"][0]["content"].get<std::string>().empty());
}

class BenchServeLive : public HarnessSuite<BenchServeLive> {
 public:
  static HarnessOptions options() {
    HarnessOptions o;
    o.api_key = "bench-key";
    return o;
  }

  static loadgen::LoadConfig config() {
    loadgen::LoadConfig c;
    c.url = "http://127.0.0.1:" + std::to_string(harness_->port());
    c.api_key = "bench-key";
    c.model = harness_->model_name();
    c.clients = 4;
    c.requests = 8;
    c.prompt_tokens = 24;
    c.max_tokens = 9;
    c.prompt_id_max = 400;  // the tiny model's vocabulary is the real deepseek-llm one
    c.timeout_s = 60;
    return c;
  }
};

void expect_ordered(const loadgen::Distribution& d) {
  EXPECT_LE(d.p50, d.p90);
  EXPECT_LE(d.p90, d.p99);
}

void expect_all_ok(const loadgen::LoadResult& r, const loadgen::LoadConfig& c) {
  ASSERT_EQ(r.records.size(), static_cast<size_t>(c.requests));
  std::set<int> clients;
  for (const auto& rec : r.records) {
    EXPECT_TRUE(rec.ok) << rec.error;
    EXPECT_EQ(rec.status, 200);
    EXPECT_TRUE(rec.usage_seen);
    EXPECT_EQ(rec.output_tokens, c.max_tokens);  // ignore_eos: exactly max_tokens, as usage reports
    EXPECT_GE(rec.ttft_s, 0);
    EXPECT_LE(rec.ttft_s, rec.e2e_s);
    EXPECT_LE(rec.e2e_s, r.wall_s);
    EXPECT_LE(rec.itl_s.size(), static_cast<size_t>(c.max_tokens - 1));
    EXPECT_GE(rec.client, 0);
    EXPECT_LT(rec.client, c.clients);
    clients.insert(rec.client);
  }
  EXPECT_GT(clients.size(), 1u) << "the load never ran concurrently";
}

TEST_F(BenchServeLive, CompletionsLoadCountsEveryToken) {
  const loadgen::LoadConfig c = config();
  ASSERT_TRUE(loadgen::wait_ready(c.url, 10));
  const loadgen::LoadResult r = loadgen::run_load(c);
  expect_all_ok(r, c);
  for (const auto& rec : r.records) EXPECT_EQ(rec.prompt_tokens, c.prompt_tokens);
  const loadgen::LoadSummary s = loadgen::summarize(r.records, c.clients, r.wall_s);
  EXPECT_EQ(s.ok, 8);
  EXPECT_EQ(s.failed, 0);
  EXPECT_EQ(s.output_tokens, 8 * 9);
  EXPECT_DOUBLE_EQ(s.mean_prompt_tokens, 24);
  EXPECT_GT(s.output_tokens_per_s, 0);
  EXPECT_EQ(s.ttft_s.count, 8u);
  EXPECT_GT(s.itl_s.count, 0u);
  expect_ordered(s.ttft_s);
  expect_ordered(s.itl_s);
  expect_ordered(s.e2e_s);
  EXPECT_LE(s.ttft_s.p99, s.wall_s);
  EXPECT_EQ(loadgen::to_json(s)["output_tokens"], 72);
  auto cli = harness_->client();
  EXPECT_TRUE(wait_idle(*cli)) << "requests or KV blocks left behind";
}

TEST_F(BenchServeLive, ChatLoadCountsEveryToken) {
  loadgen::LoadConfig c = config();
  c.endpoint = loadgen::Endpoint::Chat;
  c.clients = 2;
  c.requests = 4;
  const loadgen::LoadResult r = loadgen::run_load(c);
  expect_all_ok(r, c);
  for (const auto& rec : r.records) EXPECT_GE(rec.prompt_tokens, c.prompt_tokens);  // words plus the template
}

TEST_F(BenchServeLive, RampUpSpacesTheClientsFirstRequests) {
  loadgen::LoadConfig c = config();
  c.clients = 2;
  c.requests = 40;  // enough that client 0 alone is still busy when client 1 starts
  c.ramp_up_s = 0.6;
  const loadgen::LoadResult r = loadgen::run_load(c);
  expect_all_ok(r, c);
  double first[2] = {1e9, 1e9};
  for (const auto& rec : r.records) first[rec.client] = std::min(first[rec.client], rec.start_s);
  EXPECT_LT(first[0], 0.25);
  EXPECT_GE(first[1], 0.3);  // client 1 of 2 waits half the ramp
}

TEST_F(BenchServeLive, RejectedRequestsAreReportedAsFailures) {
  loadgen::LoadConfig c = config();
  c.api_key = "wrong";
  const loadgen::LoadResult r = loadgen::run_load(c);
  const loadgen::LoadSummary s = loadgen::summarize(r.records, c.clients, r.wall_s);
  EXPECT_EQ(s.ok, 0);
  EXPECT_EQ(s.failed, 8);
  EXPECT_NE(s.first_error.find("401"), std::string::npos) << s.first_error;
  EXPECT_EQ(s.output_tokens, 0);
}

TEST(BenchServeReady, UnreachableServerIsNotReady) {
  EXPECT_FALSE(loadgen::wait_ready("http://127.0.0.1:1", 0));
  EXPECT_THROW(loadgen::run_load({.url = "ftp://127.0.0.1:1"}), std::exception);
  EXPECT_THROW(loadgen::wait_ready("http://127.0.0.1:1/v2/x", 0), std::exception);
}

}  // namespace
}  // namespace dsinfer::server::test
