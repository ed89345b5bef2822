// The HTTP side of the server: routes, API-key check, body limit, error
// shapes for what httplib rejects itself, and the server's life cycle.
#include <httplib.h>
#include <sys/socket.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <csignal>
#include <mutex>
#include <thread>
#include <utility>

#include "core/error.h"
#include "server/chat_completions.h"
#include "server/completions.h"
#include "server/context.h"
#include "server/metrics.h"
#include "server/openai_errors.h"
#include "server/server.h"

namespace dsinfer::server {

namespace {

using EndpointFn = void (*)(const ServerContext&, const httplib::Request&, httplib::Response&);

// httplib listens with a backlog of 5: a burst of clients overflows the accept
// queue and their connections stall for seconds. Listening again raises it.
class HttpServer : public httplib::Server {
 public:
  void widen_backlog(int n) { ::listen(svr_sock_, n); }
};

constexpr int kListenBacklog = 1024;

// Compares without an early exit, so the key cannot be guessed byte by byte from timing.
bool same_secret(const std::string& a, const std::string& b) {
  unsigned diff = a.size() == b.size() ? 0u : 1u;
  for (size_t i = 0; i < a.size(); ++i) diff |= static_cast<unsigned>(a[i] ^ (i < b.size() ? b[i] : 0));
  return diff == 0;
}

bool is_api_path(const std::string& path) { return path == "/v1" || path.rfind("/v1/", 0) == 0; }

Json model_card(const ServerContext& ctx) {
  return Json{{"id", ctx.model_name},         {"object", "model"},
              {"created", unix_seconds()},     {"owned_by", "dsinfer"},
              {"root", ctx.model_name},        {"max_model_len", ctx.engine->max_model_len()}};
}

void list_models(const ServerContext& ctx, const httplib::Request&, httplib::Response& res) {
  send_json(res, 200, Json{{"object", "list"}, {"data", Json::array({model_card(ctx)})}});
}

void get_model(const ServerContext& ctx, const httplib::Request& req, httplib::Response& res) {
  const std::string name = req.matches.size() > 1 ? req.matches[1].str() : "";
  if (name != ctx.model_name) throw model_not_found(name);
  send_json(res, 200, model_card(ctx));
}

// An error for what httplib answers on its own (unknown route, body too large, bad request line).
ApiError error_for_status(const httplib::Request& req, int status, size_t body_limit) {
  switch (status) {
    case 404:
      return route_not_found(req.method, req.path);
    case 413:
      return payload_too_large(body_limit);
    case 400:
      return bad_request("Malformed HTTP request");
    default:
      return http_error(status, cat("HTTP error ", status));
  }
}

}  // namespace

struct Server::Impl {
  explicit Impl(ServerOptions o) : opts(std::move(o)) {}

  void configure();
  void add_routes();
  void add_method_guards();
  httplib::Server::Handler endpoint(EndpointFn fn);
  httplib::Server::HandlerResponse check_key(const httplib::Request& req, httplib::Response& res) const;
  void metrics(httplib::Response& res) const;

  ServerOptions opts;
  HttpServer http;
  std::thread thread;
  std::mutex mu;  // guards listen_done
  std::condition_variable listen_ended;
  bool listen_done = false;
  std::mutex stop_mu;  // serialises stop()
  std::atomic<bool> stopping{false};
  int port = -1;
  ServedModel model;
  ServerContext ctx;
  std::atomic<const ServerContext*> live{nullptr};  // set once the model is attached
  HttpCounters counters;
  IdSource ids;
};

httplib::Server::Handler Server::Impl::endpoint(EndpointFn fn) {
  return [this, fn](const httplib::Request& req, httplib::Response& res) {
    const ServerContext* c = live.load(std::memory_order_acquire);
    if (!c) return send_error(res, not_ready());
    try {
      fn(*c, req, res);
    } catch (const ApiError& e) {
      send_error(res, e);
    } catch (const std::exception& e) {
      send_error(res, internal_error(e.what()));
    }
  };
}

httplib::Server::HandlerResponse Server::Impl::check_key(const httplib::Request& req, httplib::Response& res) const {
  if (opts.api_key.empty() || !is_api_path(req.path)) return httplib::Server::HandlerResponse::Unhandled;
  if (same_secret(req.get_header_value("Authorization"), "Bearer " + opts.api_key))
    return httplib::Server::HandlerResponse::Unhandled;
  send_error(res, unauthorized());
  return httplib::Server::HandlerResponse::Handled;
}

void Server::Impl::metrics(httplib::Response& res) const {
  MetricsInput in;
  in.http = counters.snapshot();
  const ServerContext* c = live.load(std::memory_order_acquire);
  engine::EngineStats stats;
  if (c) {
    stats = c->engine->stats();
    in.stats = &stats;
    in.total_blocks = c->engine->total_blocks();
  }
  res.set_content(render_metrics(in), "text/plain; version=0.0.4; charset=utf-8");
}

void Server::Impl::add_routes() {
  http.Post("/v1/chat/completions", endpoint(handle_chat_completions));
  http.Post("/v1/completions", endpoint(handle_completions));
  http.Get("/v1/models", endpoint(list_models));
  http.Get(R"(/v1/models/(.+))", endpoint(get_model));
  http.Get("/health", [this](const httplib::Request&, httplib::Response& res) {
    const bool up = live.load(std::memory_order_acquire) != nullptr;
    send_json(res, up ? 200 : 503, Json{{"status", up ? "ok" : "loading"}});
  });
  http.Get("/metrics", [this](const httplib::Request&, httplib::Response& res) { metrics(res); });
}

// 405 (not httplib's 404) for a known path with the wrong method.
void Server::Impl::add_method_guards() {
  auto refuse = [](const char* allow) {
    return [allow](const httplib::Request& req, httplib::Response& res) {
      res.set_header("Allow", allow);
      send_error(res, method_not_allowed(req.method, req.path));
    };
  };
  for (const char* path : {"/v1/chat/completions", "/v1/completions"}) {
    http.Get(path, refuse("POST"));
    http.Put(path, refuse("POST"));
    http.Patch(path, refuse("POST"));
    http.Delete(path, refuse("POST"));
  }
  for (const char* path : {"/v1/models", R"(/v1/models/(.+))", "/health", "/metrics"}) {
    http.Post(path, refuse("GET"));
    http.Put(path, refuse("GET"));
    http.Patch(path, refuse("GET"));
    http.Delete(path, refuse("GET"));
  }
}

void Server::Impl::configure() {
  const auto threads = static_cast<size_t>(std::max(opts.http_threads, 4));
  http.new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
  http.set_payload_max_length(opts.max_body_bytes);
  // httplib's default adds SO_REUSEPORT, which lets a second server share the port
  // silently; SO_REUSEADDR alone still allows a quick restart.
  http.set_socket_options([](socket_t sock) {
    int yes = 1;
    ::setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
  });
  http.set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) { return check_key(req, res); });
  http.set_error_handler(httplib::Server::HandlerWithResponse(
      [this](const httplib::Request& req, httplib::Response& res) {
        if (!res.body.empty()) return httplib::Server::HandlerResponse::Unhandled;
        send_error(res, error_for_status(req, res.status, opts.max_body_bytes));
        return httplib::Server::HandlerResponse::Handled;
      }));
  http.set_exception_handler([](const httplib::Request&, httplib::Response& res, std::exception_ptr) {
    send_error(res, internal_error("unexpected exception"));
  });
  http.set_logger([this](const httplib::Request&, const httplib::Response& res) { counters.count(res.status); });
  add_routes();
  add_method_guards();
}

Server::Server(ServerOptions opts) : impl_(std::make_unique<Impl>(std::move(opts))) {
  // A client that closes its connection mid-stream must fail our write, not kill the process.
  std::signal(SIGPIPE, SIG_IGN);
  impl_->configure();
}

Server::~Server() { stop(); }

int Server::bind() {
  const ServerOptions& o = impl_->opts;
  if (o.port == 0) {
    impl_->port = impl_->http.bind_to_any_port(o.host);
  } else {
    impl_->port = impl_->http.bind_to_port(o.host, o.port) ? o.port : -1;
  }
  if (impl_->port <= 0) fail("cannot listen on ", o.host, ":", o.port, " (address in use or not available)");
  impl_->http.widen_backlog(kListenBacklog);
  return impl_->port;
}

void Server::start() {
  if (impl_->thread.joinable()) return;
  impl_->thread = std::thread([impl = impl_.get()] {
    impl->http.listen_after_bind();
    std::lock_guard<std::mutex> lock(impl->mu);
    impl->listen_done = true;
    impl->listen_ended.notify_all();
  });
}

void Server::attach(ServedModel model) {
  if (impl_->live.load()) fail("a model is already attached");
  Impl& s = *impl_;
  s.model = std::move(model);
  s.ctx.engine = s.model.engine;
  s.ctx.tok = s.model.tokenizer;
  s.ctx.chat_template = s.model.chat_template ? &*s.model.chat_template : nullptr;
  s.ctx.model_name = s.opts.served_model_name.empty() ? "default" : s.opts.served_model_name;
  const int32_t eos = s.ctx.tok->eos_id();
  for (const char* t : {"<｜end▁of▁sentence｜>", "<|EOT|>", "<|im_end|>", "<|eot_id|>", "<|endoftext|>"}) {
    const auto id = s.ctx.tok->token_to_id(t);
    if (id && *id != eos) s.ctx.stop_token_ids.push_back(*id);
  }
  s.ctx.stopping = &s.stopping;
  s.ctx.ids = &s.ids;
  s.live.store(&s.ctx, std::memory_order_release);
}

void Server::stop() {
  std::lock_guard<std::mutex> guard(impl_->stop_mu);
  Impl& s = *impl_;
  s.stopping = true;  // open streams end at their next poll
  if (!s.thread.joinable()) return;
  std::unique_lock<std::mutex> lock(s.mu);
  // httplib's stop() only works once listening began; call it exactly once.
  while (!s.listen_done && !s.http.is_running()) s.listen_ended.wait_for(lock, std::chrono::milliseconds(1));
  if (!s.listen_done) s.http.stop();
  s.listen_ended.wait(lock, [&] { return s.listen_done; });
  lock.unlock();
  s.thread.join();
}

void Server::wait() {
  std::unique_lock<std::mutex> lock(impl_->mu);
  impl_->listen_ended.wait(lock, [&] { return impl_->listen_done; });
}

int Server::port() const { return impl_->port; }
bool Server::ready() const { return impl_->live.load() != nullptr; }
const ServerOptions& Server::options() const { return impl_->opts; }

}  // namespace dsinfer::server
