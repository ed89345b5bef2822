#include "server/sse.h"

#include <httplib.h>

#include <chrono>
#include <utility>

namespace dsinfer::server {

namespace {

using Clock = std::chrono::steady_clock;
constexpr std::chrono::milliseconds kPoll{100};
// While nothing arrives, write something this often so a vanished client is
// noticed: an SSE comment, or JSON-insignificant whitespace before the body.
constexpr std::chrono::milliseconds kProbeEvery{1000};

class Pump {
 public:
  explicit Pump(ResponsePlan plan) : plan_(std::move(plan)) {}

  // httplib calls this until sink.done(); false aborts the response (and
  // cancels what is unfinished). Nothing may escape into httplib's worker.
  bool operator()(httplib::DataSink& sink) {
    try {
      return step(sink);
    } catch (const std::exception&) {
      return false;
    }
  }

 private:
  bool step(httplib::DataSink& sink) {
    if (plan_.stopping && plan_.stopping->load()) return false;
    if (!started_) {
      started_ = true;
      if (!write_chunks(sink, plan_.formatter->start())) return false;
    }
    for (const ChoiceOutput& o : plan_.generation->next(kPoll))
      if (!write_chunks(sink, plan_.formatter->feed(o))) return false;
    if (plan_.generation->all_finished()) return finish(sink);
    if (Clock::now() - last_write_ > kProbeEvery) return write(sink, plan_.stream ? ": keep-alive\n\n" : " ");
    return true;
  }

  bool write(httplib::DataSink& sink, const std::string& s) {
    if (s.empty()) return true;  // an empty write would end httplib's chunked stream
    last_write_ = Clock::now();
    return sink.write(s.data(), s.size());
  }

  bool write_chunks(httplib::DataSink& sink, const std::vector<Json>& chunks) {
    if (!plan_.stream) return true;
    std::string text;
    for (const Json& c : chunks) text += sse_event(c);
    return write(sink, text);
  }

  bool finish(httplib::DataSink& sink) {
    std::string tail;
    if (plan_.stream) {
      if (plan_.include_usage) tail += sse_event(plan_.formatter->usage_chunk());
      tail += kSseDone;
    } else {
      tail = dump_json(plan_.formatter->body());
    }
    if (!write(sink, tail)) return false;
    sink.done();
    return true;
  }

  ResponsePlan plan_;
  bool started_ = false;
  Clock::time_point last_write_ = Clock::now();
};

}  // namespace

std::string sse_event(const Json& chunk) { return "data: " + dump_json(chunk) + "\n\n"; }

void respond(httplib::Response& res, ResponsePlan plan) {
  const bool stream = plan.stream;
  auto pump = std::make_shared<Pump>(std::move(plan));
  res.status = 200;
  if (stream) {
    res.set_header("Cache-Control", "no-cache");
    res.set_header("X-Accel-Buffering", "no");
  }
  res.set_chunked_content_provider(stream ? "text/event-stream" : "application/json",
                                   [pump](size_t, httplib::DataSink& sink) { return (*pump)(sink); });
}

}  // namespace dsinfer::server
