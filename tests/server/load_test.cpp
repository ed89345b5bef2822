// A bounded load: 32 concurrent streaming clients, 96 requests, a third of
// them hanging up after the first chunk. Every request completes properly or
// gets a proper error, and afterwards every KV block is free again.
#include <gtest/gtest.h>

#include <atomic>
#include <mutex>
#include <thread>

#include "common/testdata.h"
#include "server/server_harness.h"

namespace dsinfer::server::test {
namespace {

constexpr int kClients = 32;
constexpr int kPerClient = 3;

struct Outcome {
  int status = 0;
  bool sent = false;  // got a response at all
  std::string body;
  std::string error;  // httplib's, when no response came
};

Outcome stream_once(int port, const std::string& path, const Json& body, bool hang_up) {
  httplib::Client cli("127.0.0.1", port);
  cli.set_read_timeout(120, 0);
  cli.set_connection_timeout(10, 0);
  httplib::Request req;
  req.method = "POST";
  req.path = path;
  req.body = body.dump();
  req.set_header("Content-Type", "application/json");
  Outcome out;
  req.response_handler = [&](const httplib::Response& r) {
    out.status = r.status;
    out.sent = true;
    return true;
  };
  req.content_receiver = [&](const char* d, size_t n, uint64_t, uint64_t) {
    out.body.append(d, n);
    // Hang up once the first event is complete.
    return !(hang_up && out.body.find("\n\n") != std::string::npos);
  };
  auto res = cli.send(req);
  if (!out.sent) out.error = httplib::to_string(res.error());
  return out;
}

Json request_body(int i, bool hang_up) {
  const int max_tokens = hang_up ? 256 : 16;  // long enough that hanging up must cancel it
  if (i % 2 == 0)
    return Json{{"model", "tiny-test"},
                {"messages", Json::array({Json{{"role", "user"}, {"content", "Question number " + std::to_string(i)}}})},
                {"max_tokens", max_tokens},
                {"stream", true},
                {"temperature", 0.7},
                {"seed", i}};
  return Json{{"model", "tiny-test"}, {"prompt", "Prompt number " + std::to_string(i)}, {"max_tokens", max_tokens},
              {"stream", true}};
}

// A finished stream: [DONE] at the end, every chunk JSON, exactly one finish_reason.
std::string check_complete(const Outcome& o) {
  if (o.status == 429) {
    const Json j = Json::parse(o.body, nullptr, false);
    return j.is_object() && j.contains("error") ? "" : "429 without an error body";
  }
  if (o.status != 200) return "status " + std::to_string(o.status) + ": " + o.body;
  const Sse s = parse_sse(o.body);
  if (!s.done || !s.clean) return "stream not terminated cleanly";
  int finishes = 0;
  for (const auto& e : s.events)
    for (const auto& c : e["choices"])
      if (!c["finish_reason"].is_null()) {
        ++finishes;
        if (c["finish_reason"] != "stop" && c["finish_reason"] != "length") return "bad finish_reason";
      }
  return finishes == 1 ? "" : "expected one finish_reason, got " + std::to_string(finishes);
}

TEST(LoadTest, ConcurrentStreamsWithDisconnectsLeaveNoBlocks) {
  REQUIRE_TESTDATA(td);
  Harness h(td, HarnessOptions{});
  std::mutex mu;
  std::vector<std::string> failures;
  std::atomic<int> completed{0}, hung_up{0}, refused{0};
  std::vector<std::thread> clients;
  for (int t = 0; t < kClients; ++t) {
    clients.emplace_back([&, t] {
      for (int k = 0; k < kPerClient; ++k) {
        const int i = t * kPerClient + k;
        const bool hang_up = i % 3 == 0;
        const Outcome o = stream_once(h.port(), i % 2 == 0 ? "/v1/chat/completions" : "/v1/completions",
                                      request_body(i, hang_up), hang_up);
        std::string why;
        if (!o.sent) {
          why = "no response: " + o.error;
        } else if (hang_up) {
          ++hung_up;
          if (o.status != 200 && o.status != 429) why = "status " + std::to_string(o.status);
        } else {
          why = check_complete(o);
          (o.status == 429 ? refused : completed) += why.empty() ? 1 : 0;
        }
        if (!why.empty()) {
          std::lock_guard<std::mutex> lock(mu);
          failures.push_back("request " + std::to_string(i) + ": " + why);
        }
      }
    });
  }
  for (auto& c : clients) c.join();
  for (const auto& f : failures) ADD_FAILURE() << f;
  EXPECT_EQ(completed + refused + hung_up, kClients * kPerClient);
  EXPECT_GT(completed, 0);
  auto cli = h.client();
  EXPECT_TRUE(wait_idle(*cli)) << "KV blocks still held after the load";
  const auto s = h.engine().stats();
  EXPECT_EQ(s.blocks_used, 0);
  EXPECT_EQ(s.blocks_free, h.engine().total_blocks());
  auto metrics = cli->Get("/metrics");
  ASSERT_TRUE(metrics);
  EXPECT_GT(metric_value(metrics->body, "dsinfer_requests_finished_total{finish_reason=\"cancelled\"}"), 0)
      << "clients that hung up should have been cancelled";
  auto health = cli->Get("/health");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200);
  auto after = post_json(*cli, "/v1/chat/completions", chat_body("tiny-test", "after the storm", 4));
  ASSERT_TRUE(after);
  EXPECT_EQ(after->status, 200);
}

TEST(LoadTest, NonStreamClientThatGoesAwayIsCancelled) {
  REQUIRE_TESTDATA(td);
  Harness h(td, HarnessOptions{});
  {
    auto impatient = h.client();
    impatient->set_read_timeout(1, 0);  // gives up long before 100000 tokens
    auto r = post_json(*impatient, "/v1/chat/completions", chat_body("tiny-test", "Go on forever.", 100000));
    EXPECT_FALSE(r) << "the request cannot have finished";
  }
  auto cli = h.client();
  EXPECT_TRUE(wait_idle(*cli)) << "the abandoned request still holds KV blocks";
  auto metrics = cli->Get("/metrics");
  ASSERT_TRUE(metrics);
  EXPECT_EQ(metric_value(metrics->body, "dsinfer_requests_finished_total{finish_reason=\"cancelled\"}"), 1);
}

}  // namespace
}  // namespace dsinfer::server::test
