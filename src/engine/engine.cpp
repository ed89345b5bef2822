#include "engine/engine.h"

#include <algorithm>

#include "core/error.h"
#include "engine/sequence.h"

namespace dsinfer::engine {

namespace {

int64_t blocks_for(const model::Model& m, const EngineOptions& o) {
  if (o.num_blocks > 0) return o.num_blocks;
  const int64_t per_block = o.block_size * m.kv_spec(o.kv_cache_dtype).bytes_per_token();
  return std::max<int64_t>(1, static_cast<int64_t>(o.kv_cache_bytes) / per_block);
}

}  // namespace

Engine::Engine(model::Model& m, const tokenizer::Tokenizer& tok, const EngineOptions& opts)
    : model_(m),
      tok_(tok),
      opts_(opts),
      cache_(m.backend(), m.kv_spec(opts.kv_cache_dtype), blocks_for(m, opts), opts.block_size),
      blocks_(cache_.num_blocks(), opts.block_size, opts.prefix_caching) {
  const int64_t capacity = cache_.num_blocks() * opts.block_size;
  max_model_len_ = opts.max_model_len > 0 ? opts.max_model_len : m.config().max_position_embeddings;
  max_model_len_ = std::min(max_model_len_, capacity);
}

Engine::~Engine() { stop(); }

uint64_t Engine::submit(Request r) {
  if (r.prompt.empty()) fail("the prompt is empty");
  const auto n = static_cast<int64_t>(r.prompt.size());
  if (n >= max_model_len_)
    fail("this model's maximum context length is ", max_model_len_, " tokens, but the prompt has ", n,
         " tokens (at least one token must be left to generate)");
  for (int32_t t : r.prompt)
    if (t < 0 || t >= model_.config().vocab_size) fail("prompt token id ", t, " is outside the vocabulary");
  validate(r.sampling);
  std::lock_guard<std::mutex> lock(mu_);
  if (queued_ >= opts_.max_queue) throw QueueFull(cat("the request queue is full (", opts_.max_queue, " waiting)"));
  const uint64_t id = next_id_++;
  inbox_.push_back(std::make_unique<Sequence>(id, std::move(r), tok_));
  ++queued_;
  wake_.notify_one();
  return id;
}

void Engine::cancel(uint64_t id) {
  std::lock_guard<std::mutex> lock(mu_);
  cancels_.insert(id);
  wake_.notify_one();
}

void Engine::drain_inbox() {
  std::vector<std::unique_ptr<Sequence>> in;
  std::unordered_set<uint64_t> cancels;
  {
    std::lock_guard<std::mutex> lock(mu_);
    in.swap(inbox_);
    cancels.swap(cancels_);
  }
  for (auto& s : in) waiting_.push_back(std::move(s));
  if (cancels.empty()) return;
  auto cancelled = [&](const std::unique_ptr<Sequence>& s) { return cancels.count(s->id) > 0; };
  for (auto& s : running_)
    if (cancelled(s)) s->cancelled = true;
  for (auto& s : waiting_)
    if (cancelled(s)) s->cancelled = true;
}

bool Engine::reserve(Sequence& s, int64_t n_tokens) {
  return blocks_.ensure(s.block_table, s.n_computed + n_tokens);
}

// Frees the newest running sequence (other than `keep`) and puts it back at
// the head of the queue; it recomputes its KV when readmitted.
void Engine::preempt_newest(const Sequence* keep) {
  for (auto it = running_.rbegin(); it != running_.rend(); ++it) {
    if (it->get() == keep) continue;
    Sequence& s = **it;
    blocks_.release(s.block_table);
    s.n_computed = 0;
    waiting_.push_front(std::move(*it));
    running_.erase(std::next(it).base());
    ++stats_.preemptions;
    return;
  }
}

std::vector<Engine::Planned> Engine::schedule() {
  std::vector<Planned> plan;
  int64_t budget = opts_.max_num_batched_tokens;
  for (auto it = running_.begin(); it != running_.end() && budget > 0;) {
    Sequence& s = **it;
    const int64_t take = std::min<int64_t>(static_cast<int64_t>(s.tokens.size()) - s.n_computed, budget);
    while (!reserve(s, take) && running_.size() > 1 && running_.back().get() != &s) preempt_newest(&s);
    if (!reserve(s, take)) {  // even alone it does not fit now: recompute later
      preempt_newest(nullptr);
      break;
    }
    plan.push_back({&s, take});
    budget -= take;
    ++it;
  }
  while (budget > 0 && !waiting_.empty() && static_cast<int64_t>(running_.size()) < opts_.max_num_seqs) {
    Sequence& s = *waiting_.front();
    if (s.n_computed == 0 && s.block_table.empty()) {
      s.n_computed = blocks_.match_prefix(s.tokens, s.block_table);
      if (s.n_output() == 0) s.cached_prompt_tokens = s.n_computed;
    }
    const int64_t take = std::min<int64_t>(static_cast<int64_t>(s.tokens.size()) - s.n_computed, budget);
    if (!reserve(s, take)) {
      if (!running_.empty()) {  // wait for running sequences to free blocks; keep no cached ones meanwhile
        blocks_.release(s.block_table);
        s.n_computed = 0;
        break;
      }
      blocks_.release(s.block_table);  // nothing runs and it still does not fit: give up on it
      s.n_computed = 0;
      RequestOutput out;
      finish(s, FinishReason::Length, out);
      break;
    }
    plan.push_back({&s, take});
    budget -= take;
    running_.push_back(std::move(waiting_.front()));
    waiting_.pop_front();
  }
  return plan;
}

void Engine::run_batch(const std::vector<Planned>& plan) {
  model::Batch b;
  std::vector<int32_t> logit_of(plan.size(), -1);
  for (size_t i = 0; i < plan.size(); ++i) {
    const Sequence& s = *plan[i].seq;
    const auto first = s.tokens.begin() + s.n_computed;
    b.tokens.insert(b.tokens.end(), first, first + plan[i].n_tokens);
    b.seqs.push_back({static_cast<int32_t>(plan[i].n_tokens), static_cast<int32_t>(s.n_computed), s.block_table});
    if (s.n_computed + plan[i].n_tokens == static_cast<int64_t>(s.tokens.size())) {
      logit_of[i] = static_cast<int32_t>(b.logit_rows.size());
      b.logit_rows.push_back(static_cast<int32_t>(b.tokens.size() - 1));
    }
  }
  model_.forward(b, cache_, logits_);
  const auto vocab = static_cast<size_t>(model_.config().vocab_size);
  for (size_t i = 0; i < plan.size(); ++i) {
    Sequence& s = *plan[i].seq;
    s.n_computed += plan[i].n_tokens;
    if (s.n_output() == 0) stats_.prompt_tokens += plan[i].n_tokens;
    blocks_.publish(s.tokens, s.block_table, s.n_computed);
    if (logit_of[i] >= 0) after_forward(s, &logits_[static_cast<size_t>(logit_of[i]) * vocab]);
  }
}

}  // namespace dsinfer::engine
