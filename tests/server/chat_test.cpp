// /v1/chat/completions against the in-process server: bodies, streams,
// reasoning split, logprobs and usage.
#include <gtest/gtest.h>

#include "common/testdata.h"
#include "server/server_harness.h"

namespace dsinfer::server::test {
namespace {

class ChatTest : public HarnessSuite<ChatTest> {
 protected:

  Json post_ok(const Json& body) {
    auto r = post_json(*cli_, "/v1/chat/completions", body);
    EXPECT_TRUE(r) << "no response";
    if (!r) return Json();
    EXPECT_EQ(r->status, 200) << r->body;
    EXPECT_EQ(r->get_header_value("Content-Type"), "application/json");
    return Json::parse(r->body);
  }

  Sse post_stream(Json body) {
    body["stream"] = true;
    auto r = post_json(*cli_, "/v1/chat/completions", body);
    EXPECT_TRUE(r) << "no response";
    if (!r) return {};
    EXPECT_EQ(r->status, 200) << r->body;
    EXPECT_EQ(r->get_header_value("Content-Type"), "text/event-stream");
    return parse_sse(r->body);
  }
};


struct Streamed {
  std::string content, reasoning, finish, role;
  int finish_chunks = 0;
  Json usage;
};

Streamed collect(const Sse& s, size_t index = 0) {
  Streamed out;
  for (const auto& e : s.events) {
    EXPECT_EQ(e["object"], "chat.completion.chunk");
    if (e.contains("usage") && !e["usage"].is_null()) out.usage = e["usage"];  // absent without include_usage
    for (const auto& c : e["choices"]) {
      if (c["index"] != index) continue;
      const Json& d = c["delta"];
      if (d.contains("role")) out.role = d["role"];
      if (d.contains("content")) out.content += d["content"].get<std::string>();
      if (d.contains("reasoning_content")) out.reasoning += d["reasoning_content"].get<std::string>();
      if (!c["finish_reason"].is_null()) {
        out.finish = c["finish_reason"];
        ++out.finish_chunks;
      }
    }
  }
  return out;
}

TEST_F(ChatTest, NonStreamShapeAndUsage) {
  const Json b = post_ok(chat_body("tiny-test", "Hello, who are you?", 12));
  EXPECT_EQ(b["object"], "chat.completion");
  EXPECT_EQ(b["model"], "tiny-test");
  EXPECT_EQ(b["id"].get<std::string>().rfind("chatcmpl-", 0), 0u);
  EXPECT_TRUE(b["created"].is_number_integer());
  ASSERT_EQ(b["choices"].size(), 1u);
  const Json& c = b["choices"][0];
  EXPECT_EQ(c["index"], 0);
  EXPECT_EQ(c["message"]["role"], "assistant");
  EXPECT_TRUE(c["message"]["content"].is_string());
  EXPECT_TRUE(c["logprobs"].is_null());
  const Json& u = b["usage"];
  EXPECT_GT(u["prompt_tokens"].get<int>(), 5);
  EXPECT_GE(u["completion_tokens"].get<int>(), 1);
  EXPECT_LE(u["completion_tokens"].get<int>(), 12);
  EXPECT_EQ(u["total_tokens"].get<int>(), u["prompt_tokens"].get<int>() + u["completion_tokens"].get<int>());
  EXPECT_TRUE(u["prompt_tokens_details"]["cached_tokens"].is_number_integer());
  if (c["finish_reason"] == "length") {
    EXPECT_EQ(u["completion_tokens"], 12);
  }
  EXPECT_TRUE(c["finish_reason"] == "length" || c["finish_reason"] == "stop");
}

TEST_F(ChatTest, StreamEqualsNonStreamForGreedy) {
  Json body = chat_body("tiny-test", "Tell me a story about a dragon.", 16);
  body["seed"] = 7;
  const Json full = post_ok(body);
  body["stream_options"] = Json{{"include_usage", true}};
  const Sse s = post_stream(body);
  EXPECT_TRUE(s.done);
  EXPECT_TRUE(s.clean);
  ASSERT_GE(s.events.size(), 3u);
  const Streamed st = collect(s);
  EXPECT_EQ(st.role, "assistant");
  EXPECT_EQ(st.finish_chunks, 1);
  EXPECT_EQ(st.finish, full["choices"][0]["finish_reason"]);
  EXPECT_EQ(st.content, full["choices"][0]["message"]["content"]);
  EXPECT_EQ(st.reasoning, full["choices"][0]["message"].value("reasoning_content", ""));
  // The usage chunk comes last, with no choices, and agrees with the non-streamed usage.
  const Json& last = s.events.back();
  EXPECT_TRUE(last["choices"].empty());
  EXPECT_EQ(last["usage"]["completion_tokens"], full["usage"]["completion_tokens"]);
  EXPECT_EQ(last["usage"]["prompt_tokens"], full["usage"]["prompt_tokens"]);
  for (size_t i = 0; i + 1 < s.events.size(); ++i) EXPECT_TRUE(s.events[i].contains("usage") && s.events[i]["usage"].is_null());
  for (const auto& e : s.events) EXPECT_EQ(e["id"], s.events[0]["id"]);
}

TEST_F(ChatTest, StreamWithoutUsageHasNoUsageChunk) {
  const Sse s = post_stream(chat_body("tiny-test", "hi", 4));
  EXPECT_TRUE(s.done);
  for (const auto& e : s.events) {
    EXPECT_FALSE(e.contains("usage"));
    EXPECT_EQ(e["choices"].size(), 1u);
  }
}

TEST_F(ChatTest, ThinkingPromptSplitsReasoning) {
  // With enable_thinking the template ends the prompt inside <think>: output is reasoning.
  Json body = chat_body("tiny-test", "Solve 2+2.", 10);
  body["chat_template_kwargs"] = Json{{"enable_thinking", true}};
  const Json full = post_ok(body);
  const Json& msg = full["choices"][0]["message"];
  ASSERT_TRUE(msg.contains("reasoning_content")) << full.dump();
  EXPECT_FALSE(msg["reasoning_content"].get<std::string>().empty());
  const Streamed st = collect(post_stream(body));
  EXPECT_EQ(st.reasoning, msg["reasoning_content"]);
  EXPECT_EQ(st.content, msg["content"]);
}

TEST_F(ChatTest, LogprobsAreConsistent) {
  Json body = chat_body("tiny-test", "Count to ten.", 8);
  body["logprobs"] = true;
  body["top_logprobs"] = 5;
  const Json full = post_ok(body);
  const Json& lp = full["choices"][0]["logprobs"]["content"];
  ASSERT_EQ(lp.size(), full["usage"]["completion_tokens"].get<size_t>());
  for (const auto& e : lp) {
    const double chosen = e["logprob"];
    EXPECT_LE(chosen, 0.0);
    EXPECT_TRUE(e["token"].is_string());
    EXPECT_TRUE(e["bytes"].is_array());
    ASSERT_EQ(e["top_logprobs"].size(), 5u);
    for (size_t i = 0; i + 1 < 5; ++i)
      EXPECT_GE(e["top_logprobs"][i]["logprob"].get<double>(), e["top_logprobs"][i + 1]["logprob"].get<double>());
    // Greedy: the chosen token is the most likely one.
    EXPECT_DOUBLE_EQ(chosen, e["top_logprobs"][0]["logprob"].get<double>());
  }
  // Streamed logprobs carry the same tokens.
  const Sse s = post_stream(body);
  size_t n = 0;
  for (const auto& ev : s.events)
    for (const auto& c : ev["choices"])
      if (!c["logprobs"].is_null()) n += c["logprobs"]["content"].size();
  EXPECT_EQ(n, lp.size());
}

TEST_F(ChatTest, SeveralChoicesAndMessageForms) {
  Json body = chat_body("tiny-test", "ignored", 6);
  body["messages"] = Json::array({Json{{"role", "system"}, {"content", "Be brief."}},
                                  Json{{"role", "user"}, {"content", Json::array({Json{{"type", "text"}, {"text", "a"}},
                                                                                  Json{{"type", "text"}, {"text", "b"}}})}},
                                  Json{{"role", "assistant"}, {"content", "ok"}},
                                  Json{{"role", "user"}, {"content", "again"}}});
  body["n"] = 3;
  body["temperature"] = 0.9;
  body["top_p"] = 0.9;
  body["top_k"] = 40;
  body["min_p"] = 0.01;
  body["presence_penalty"] = 0.5;
  body["frequency_penalty"] = 0.5;
  body["repetition_penalty"] = 1.1;
  body["seed"] = 123;
  const Json full = post_ok(body);
  ASSERT_EQ(full["choices"].size(), 3u);
  int completion = 0;
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(full["choices"][i]["index"], i);
    EXPECT_FALSE(full["choices"][i]["finish_reason"].is_null());
  }
  completion = full["usage"]["completion_tokens"];
  EXPECT_GE(completion, 3);
  EXPECT_LE(completion, 18);
  const Sse s = post_stream(body);
  EXPECT_TRUE(s.done);
  for (size_t i = 0; i < 3; ++i) EXPECT_EQ(collect(s, i).finish_chunks, 1) << i;
}

// Index of the first character boundary at or after byte i.
size_t boundary(const std::string& s, size_t i) {
  while (i < s.size() && (static_cast<unsigned char>(s[i]) & 0xC0) == 0x80) ++i;
  return i;
}

TEST_F(ChatTest, StopStringEndsWithStop) {
  // Greedy output is deterministic: stop at a piece of it.
  const Json first = post_ok(chat_body("tiny-test", "Write something.", 12));
  const std::string text = first["choices"][0]["message"]["content"];
  const size_t from = boundary(text, 3), to = boundary(text, 6);
  if (to <= from) GTEST_SKIP() << "output too short to cut";
  Json body = chat_body("tiny-test", "Write something.", 12);
  body["stop"] = Json::array({text.substr(from, to - from), "never-appears-xyz"});
  const Json cut = post_ok(body);
  EXPECT_EQ(cut["choices"][0]["finish_reason"], "stop");
  const std::string got = cut["choices"][0]["message"]["content"];
  EXPECT_EQ(text.find(got), 0u) << got;
  EXPECT_LE(got.size(), from);
}

}  // namespace
}  // namespace dsinfer::server::test
