#include "loadgen/load_client.h"

#include <httplib.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <exception>
#include <limits>
#include <optional>
#include <random>
#include <thread>

#include "core/error.h"

namespace dsinfer::loadgen {

namespace {

using Clock = std::chrono::steady_clock;
using Json = nlohmann::json;

double seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

// Common short English words: about one token each in byte-level BPE vocabularies.
constexpr std::array<const char*, 48> kWords = {
    "the",   "of",    "and",   "to",    "in",    "is",    "it",    "that",  "for",   "was",   "on",    "are",
    "with",  "as",    "his",   "they",  "be",    "at",    "one",   "have",  "this",  "from",  "or",    "had",
    "by",    "word",  "but",   "what",  "some",  "we",    "can",   "out",   "other", "were",  "all",   "there",
    "when",  "up",    "use",   "your",  "how",   "said",  "an",    "each",  "she",   "which", "do",    "their"};

std::mt19937_64 request_rng(const LoadConfig& c, int64_t index) {
  std::seed_seq seq{static_cast<uint32_t>(c.seed), static_cast<uint32_t>(c.seed >> 32),
                    static_cast<uint32_t>(index), static_cast<uint32_t>(static_cast<uint64_t>(index) >> 32)};
  return std::mt19937_64(seq);
}

Json token_prompt(const LoadConfig& c, int64_t index) {
  std::mt19937_64 rng = request_rng(c, index);
  std::uniform_int_distribution<int> id(0, std::max(c.prompt_id_max, 1) - 1);
  Json ids = Json::array();
  for (int i = 0; i < c.prompt_tokens; ++i) ids.push_back(id(rng));
  return ids;
}

std::string word_prompt(const LoadConfig& c, int64_t index) {
  std::mt19937_64 rng = request_rng(c, index);
  std::uniform_int_distribution<size_t> pick(0, kWords.size() - 1);
  std::string text;
  for (int i = 0; i < c.prompt_tokens; ++i) {
    if (i > 0) text += ' ';
    text += kWords[pick(rng)];
  }
  return text;
}

bool nonempty_string(const Json& obj, const char* key) {
  auto it = obj.find(key);
  return it != obj.end() && it->is_string() && !it->get_ref<const std::string&>().empty();
}

// True when the chunk streams generated text (not the role chunk, not the finish chunk).
bool carries_text(const Json& event) {
  auto choices = event.find("choices");
  if (choices == event.end() || !choices->is_array()) return false;
  for (const Json& ch : *choices) {
    if (!ch.is_object()) continue;
    if (nonempty_string(ch, "text")) return true;
    auto delta = ch.find("delta");
    if (delta != ch.end() && delta->is_object() &&
        (nonempty_string(*delta, "content") || nonempty_string(*delta, "reasoning_content")))
      return true;
  }
  return false;
}

// Builds one RequestRecord from the events of a streaming response as they arrive.
class StreamRecorder {
 public:
  StreamRecorder(RequestRecord& rec, Clock::time_point sent) : rec_(rec), sent_(sent) {}

  void on_bytes(const char* d, size_t n) {
    const Clock::time_point now = Clock::now();
    if (rec_.status != 200) {
      if (error_body_.size() < 300) error_body_.append(d, std::min<size_t>(n, 300));
      return;
    }
    for (const Json& e : sse_.feed(d, n)) on_event(e, now);
  }

  void finish(const httplib::Result& res) {
    rec_.e2e_s = seconds(Clock::now() - sent_);
    if (!rec_.usage_seen) rec_.output_tokens = text_chunks_;
    if (rec_.status == 0) {
      rec_.error = "no response: " + httplib::to_string(res.error());
    } else if (rec_.status != 200) {
      rec_.error = cat("HTTP ", rec_.status, ": ", error_body_);
    } else if (rec_.error.empty() && !sse_.malformed().empty()) {
      rec_.error = "malformed event: " + sse_.malformed();
    } else if (rec_.error.empty() && !sse_.done()) {
      rec_.error = "stream ended without [DONE]";
    }
    rec_.ok = rec_.error.empty();
  }

 private:
  void on_event(const Json& e, Clock::time_point now) {
    if (!e.is_object()) return;
    if (e.contains("error") && rec_.error.empty()) rec_.error = "error event: " + e["error"].dump();
    auto usage = e.find("usage");
    if (usage != e.end() && usage->is_object()) {
      rec_.usage_seen = true;
      rec_.output_tokens = usage->value("completion_tokens", int64_t{0});
      rec_.prompt_tokens = usage->value("prompt_tokens", int64_t{0});
    }
    if (!carries_text(e)) return;
    if (last_text_) {
      rec_.itl_s.push_back(seconds(now - *last_text_));
    } else {
      rec_.ttft_s = seconds(now - sent_);
    }
    last_text_ = now;
    ++text_chunks_;
  }

  RequestRecord& rec_;
  Clock::time_point sent_;
  std::optional<Clock::time_point> last_text_;
  int64_t text_chunks_ = 0;
  SseReader sse_;
  std::string error_body_;
};

struct RequestSlot {
  const LoadConfig* config = nullptr;
  int64_t index = 0;
  Clock::time_point run_start;
};

RequestRecord stream_request(httplib::Client& cli, const RequestSlot& slot) {
  const LoadConfig& c = *slot.config;
  RequestRecord rec;
  httplib::Request req;
  req.method = "POST";
  req.path = endpoint_path(c.endpoint);
  req.body = request_body(c, slot.index).dump();
  req.set_header("Content-Type", "application/json");
  req.set_header("Accept", "text/event-stream");
  if (!c.api_key.empty()) req.set_header("Authorization", "Bearer " + c.api_key);
  const Clock::time_point sent = Clock::now();
  rec.start_s = seconds(sent - slot.run_start);
  StreamRecorder recorder(rec, sent);
  req.response_handler = [&rec](const httplib::Response& r) {
    rec.status = r.status;
    return true;
  };
  req.content_receiver = [&recorder](const char* d, size_t n, uint64_t, uint64_t) {
    recorder.on_bytes(d, n);
    return true;
  };
  const httplib::Result res = cli.send(req);
  recorder.finish(res);
  return rec;
}

// scheme://host[:port], accepting a trailing "/" or "/v1" (how OpenAI base URLs are often written).
std::string base_url(std::string url) {
  while (!url.empty() && url.back() == '/') url.pop_back();
  if (url.size() >= 3 && url.compare(url.size() - 3, 3, "/v1") == 0) url.resize(url.size() - 3);
  const size_t scheme_end = url.find("://");
  const bool scheme_ok = url.rfind("http://", 0) == 0 || url.rfind("https://", 0) == 0;
  if (!scheme_ok || url.find_first_of("/?# ", scheme_end + 3) != std::string::npos || url.size() == scheme_end + 3)
    fail("cannot use URL '", url, "' (expected http://HOST:PORT)");
  return url;
}

std::unique_ptr<httplib::Client> make_client(const LoadConfig& c) {
  auto cli = std::make_unique<httplib::Client>(base_url(c.url));
  if (!cli->is_valid()) fail("cannot use URL '", c.url, "' (expected http://HOST:PORT)");
  cli->set_keep_alive(true);
  cli->set_connection_timeout(10, 0);
  cli->set_read_timeout(c.timeout_s, 0);
  cli->set_write_timeout(c.timeout_s, 0);
  return cli;
}

struct ClientLoop {
  const LoadConfig& config;
  std::atomic<int64_t>& next;
  std::vector<RequestRecord>& records;
  Clock::time_point run_start;

  // Claims request indices until none are left; each index is written by exactly one thread.
  void operator()(int client, httplib::Client& cli) {
    const double delay = config.ramp_up_s * client / std::max(config.clients, 1);
    std::this_thread::sleep_until(run_start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(delay)));
    for (int64_t i = next++; i < config.requests; i = next++) {
      RequestRecord rec;
      try {
        rec = stream_request(cli, {&config, i, run_start});
      } catch (const std::exception& e) {
        rec.error = e.what();
      }
      rec.client = client;
      records[static_cast<size_t>(i)] = std::move(rec);
    }
  }
};

double wall_seconds(const std::vector<RequestRecord>& records) {
  double begin = std::numeric_limits<double>::infinity(), end = 0;
  for (const RequestRecord& r : records) {
    begin = std::min(begin, r.start_s);
    end = std::max(end, r.start_s + r.e2e_s);
  }
  return records.empty() ? 0 : end - begin;
}

}  // namespace

const char* endpoint_path(Endpoint e) { return e == Endpoint::Chat ? "/v1/chat/completions" : "/v1/completions"; }

Json request_body(const LoadConfig& c, int64_t index) {
  Json body = Json::object();
  if (!c.model.empty()) body["model"] = c.model;
  if (c.endpoint == Endpoint::Chat) {
    body["messages"] = Json::array({Json{{"role", "user"}, {"content", word_prompt(c, index)}}});
  } else {
    body["prompt"] = token_prompt(c, index);
  }
  body["max_tokens"] = c.max_tokens;
  body["stream"] = true;
  body["stream_options"] = Json{{"include_usage", true}};
  if (c.ignore_eos) body["ignore_eos"] = true;
  return body;
}

std::vector<Json> SseReader::feed(const char* data, size_t n) {
  for (size_t i = 0; i < n; ++i)
    if (data[i] != '\r') buf_ += data[i];
  std::vector<Json> out;
  for (size_t end = buf_.find("\n\n"); end != std::string::npos; end = buf_.find("\n\n")) {
    take_event(buf_.substr(0, end), out);
    buf_.erase(0, end + 2);
  }
  return out;
}

void SseReader::take_event(const std::string& block, std::vector<Json>& out) {
  size_t pos = 0;
  while (pos <= block.size()) {
    size_t eol = block.find('\n', pos);
    if (eol == std::string::npos) eol = block.size();
    const std::string line = block.substr(pos, eol - pos);
    pos = eol + 1;
    if (line.rfind("data:", 0) != 0) continue;  // comments (": keep-alive"), event:, id:
    std::string payload = line.substr(5);
    if (!payload.empty() && payload[0] == ' ') payload.erase(0, 1);
    if (payload == "[DONE]") {
      done_ = true;
      continue;
    }
    Json j = Json::parse(payload, nullptr, false);
    if (j.is_discarded()) {
      if (malformed_.empty()) malformed_ = payload.substr(0, 200);
      continue;
    }
    out.push_back(std::move(j));
  }
}

LoadResult run_load(const LoadConfig& c) {
  std::vector<std::unique_ptr<httplib::Client>> clients;
  for (int i = 0; i < c.clients; ++i) clients.push_back(make_client(c));
  LoadResult r;
  r.records.resize(static_cast<size_t>(std::max<int64_t>(c.requests, 0)));
  std::atomic<int64_t> next{0};
  ClientLoop loop{c, next, r.records, Clock::now()};
  std::vector<std::thread> threads;
  for (int i = 0; i < c.clients; ++i) threads.emplace_back([&loop, &clients, i] { loop(i, *clients[static_cast<size_t>(i)]); });
  for (auto& t : threads) t.join();
  r.wall_s = wall_seconds(r.records);
  return r;
}

bool wait_ready(const std::string& url, double timeout_s) {
  httplib::Client cli(base_url(url));
  if (!cli.is_valid()) fail("cannot use URL '", url, "' (expected http://HOST:PORT)");
  cli.set_connection_timeout(2, 0);
  cli.set_read_timeout(5, 0);
  const Clock::time_point deadline = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                                        std::chrono::duration<double>(timeout_s));
  while (true) {
    auto res = cli.Get("/health");
    if (res && res->status == 200) return true;
    if (Clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
  }
}

}  // namespace dsinfer::loadgen
