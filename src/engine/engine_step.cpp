// The second half of a step: sampling, detokenizing, stop conditions and
// delivery, plus the background loop and statistics.
#include <algorithm>
#include <numeric>

#include "engine/engine.h"
#include "engine/sequence.h"
#include "engine/vocab_weights.h"

namespace dsinfer::engine {

namespace {

double seconds_between(std::chrono::steady_clock::time_point a, std::chrono::steady_clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

// Log-probabilities of the raw logits (no [vocab] log-softmax is built).
TokenLogprob logprob_of(const float* logits, int32_t vocab, int32_t token, int32_t top) {
  const double lse = log_sum_exp(logits, vocab);
  const auto lp = [&](int32_t id) { return static_cast<float>(static_cast<double>(logits[id]) - lse); };
  TokenLogprob r{token, lp(token), {}};
  const auto k = static_cast<size_t>(std::clamp(top, 0, vocab));
  if (k == 0) return r;
  std::vector<int32_t> idx(static_cast<size_t>(vocab));
  std::iota(idx.begin(), idx.end(), 0);
  std::partial_sort(idx.begin(), idx.begin() + static_cast<int64_t>(k), idx.end(), [&](int32_t a, int32_t b) {
    return logits[a] > logits[b] || (logits[a] == logits[b] && a < b);
  });
  for (size_t i = 0; i < k; ++i) r.top.emplace_back(idx[i], lp(idx[i]));
  return r;
}

}  // namespace

void Engine::after_forward(Sequence& s, const float* logits) {
  const auto vocab = static_cast<int32_t>(model_.config().vocab_size);
  const auto now = std::chrono::steady_clock::now();
  const int32_t next = s.sampler.sample(logits, vocab, s.req.prompt, s.output());
  if (s.n_output() == 0)
    stats_.ttft.observe(seconds_between(s.arrival, now));
  else
    stats_.itl.observe(seconds_between(s.last_token, now));
  s.last_token = now;
  s.tokens.push_back(next);
  ++stats_.generation_tokens;
  RequestOutput out;
  out.tokens.push_back(next);
  if (s.req.top_logprobs >= 0) out.logprobs.push_back(logprob_of(logits, vocab, next, s.req.top_logprobs));
  const bool eos = !s.req.ignore_eos && next == tok_.eos_id();
  const bool stop_id = std::find(s.req.stop_token_ids.begin(), s.req.stop_token_ids.end(), next) != s.req.stop_token_ids.end();
  if (eos || stop_id) {
    out.text = s.stops.feed(s.detok.flush()).text;
    if (!s.stops.stopped()) out.text += s.stops.flush();
    return finish(s, FinishReason::Stop, out);
  }
  const auto r = s.stops.feed(s.detok.push(next));
  out.text = r.text;
  if (r.stopped) return finish(s, FinishReason::Stop, out);
  if (s.n_output() >= s.req.max_tokens || static_cast<int64_t>(s.tokens.size()) >= max_model_len_) {
    const auto tail = s.stops.feed(s.detok.flush());
    out.text += tail.text;
    if (!tail.stopped) out.text += s.stops.flush();
    return finish(s, tail.stopped ? FinishReason::Stop : FinishReason::Length, out);
  }
  out.prompt_tokens = s.n_prompt;
  out.completion_tokens = s.n_output();
  out.cached_prompt_tokens = s.cached_prompt_tokens;
  if (s.req.on_output) s.req.on_output(out);
}

// Delivers the last output; the sequence's blocks are freed by the caller's sweep.
void Engine::finish(Sequence& s, FinishReason why, RequestOutput& out) {
  out.finished = true;
  out.finish_reason = why;
  out.prompt_tokens = s.n_prompt;
  out.completion_tokens = s.n_output();
  out.cached_prompt_tokens = s.cached_prompt_tokens;
  s.done = true;  // swept (blocks freed) at the end of the step
  ++stats_.finished[finish_reason_name(why)];
  if (s.req.on_output) s.req.on_output(out);
}

bool Engine::step() {
  drain_inbox();
  for (auto& s : running_)
    if (s->cancelled && !s->done) finish_cancelled(*s);
  for (auto& s : waiting_)
    if (s->cancelled && !s->done) finish_cancelled(*s);
  sweep();
  const std::vector<Planned> plan = schedule();
  if (!plan.empty()) run_batch(plan);
  sweep();
  publish_stats();
  return !plan.empty();
}

void Engine::finish_cancelled(Sequence& s) {
  RequestOutput out;
  finish(s, FinishReason::Cancelled, out);
}

// Frees the blocks of every finished sequence and forgets it.
void Engine::sweep() {
  auto gone = [](const std::unique_ptr<Sequence>& s) { return s->done; };
  for (auto& s : running_)
    if (s->done) blocks_.release(s->block_table);
  for (auto& s : waiting_)
    if (s->done) blocks_.release(s->block_table);
  running_.remove_if(gone);
  waiting_.erase(std::remove_if(waiting_.begin(), waiting_.end(), gone), waiting_.end());
}

void Engine::publish_stats() {
  stats_.running = static_cast<int64_t>(running_.size());
  stats_.blocks_free = blocks_.num_free();
  stats_.blocks_used = blocks_.num_blocks() - blocks_.num_free();
  stats_.prefix_queried_tokens = blocks_.stats().queried_tokens;
  stats_.prefix_hit_tokens = blocks_.stats().hit_tokens;
  std::lock_guard<std::mutex> lock(mu_);
  queued_ = static_cast<int64_t>(inbox_.size() + waiting_.size());
  stats_.waiting = queued_;
  published_ = stats_;
}

void Engine::loop() {
  while (!stop_) {
    bool busy = false;
    try {
      busy = step();
    } catch (const std::exception&) {
      busy = false;  // a failed forward pass must not take the server down
    }
    if (busy) continue;
    std::unique_lock<std::mutex> lock(mu_);
    wake_.wait_for(lock, std::chrono::milliseconds(50), [&] { return stop_ || !inbox_.empty() || !cancels_.empty(); });
  }
}

void Engine::start() {
  if (thread_.joinable()) return;
  stop_ = false;
  thread_ = std::thread([this] { loop(); });
}

void Engine::stop() {
  stop_ = true;
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

EngineStats Engine::stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  return published_;
}

}  // namespace dsinfer::engine
