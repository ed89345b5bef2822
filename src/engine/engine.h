// The serving engine: one step at a time over all running sequences.
// Each step admits waiting prompts in chunks within a token budget (chunked
// prefill), decodes the running ones in the same forward pass, and preempts
// the newest sequences (frees their blocks, recomputes them later) when KV
// blocks run out. First come, first served. submit() and cancel() are
// thread-safe; run() steps on a background thread until stop().
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <list>
#include <memory>
#include <mutex>
#include <thread>
#include <unordered_set>
#include <vector>

#include "core/error.h"
#include "engine/engine_stats.h"
#include "engine/kv_block_manager.h"
#include "engine/request.h"
#include "model/model.h"
#include "tokenizer/tokenizer.h"

namespace dsinfer::engine {

struct EngineOptions {
  int64_t max_num_seqs = 32;             // running sequences at once
  int64_t max_num_batched_tokens = 512;  // tokens per step (prefill chunks + decodes)
  int64_t max_queue = 256;               // waiting requests before submit() refuses
  int64_t block_size = 16;
  int64_t num_blocks = 0;                // 0: from kv_cache_bytes
  size_t kv_cache_bytes = size_t{512} << 20;
  int64_t max_model_len = 0;             // 0: the model's max_position_embeddings, capped by the cache
  bool prefix_caching = true;
  model::CacheDType kv_cache_dtype = model::CacheDType::Auto;
};

// Thrown by submit(): the request can never run (too long) or must wait (queue full).
struct QueueFull : Error {
  using Error::Error;
};

struct Sequence;

class Engine {
 public:
  Engine(model::Model& m, const tokenizer::Tokenizer& tok, const EngineOptions& opts);
  ~Engine();

  // Returns the request id. Throws Error for a request that can never run
  // (prompt longer than max_model_len), QueueFull when the queue is full.
  uint64_t submit(Request r);
  // The request stops at the next step and frees its blocks; its callback gets finish Cancelled.
  void cancel(uint64_t id);

  void start();  // background stepping
  void stop();
  // One step on the calling thread (tests, benchmarks). False when idle.
  bool step();

  EngineStats stats() const;
  int64_t max_model_len() const { return max_model_len_; }
  int64_t total_blocks() const { return blocks_.num_blocks(); }
  const model::KVCache& kv_cache() const { return cache_; }

 private:
  struct Planned {
    Sequence* seq;
    int64_t n_tokens;
  };
  void drain_inbox();
  std::vector<Planned> schedule();
  bool reserve(Sequence& s, int64_t n_tokens);
  void preempt_newest(const Sequence* keep);
  void run_batch(const std::vector<Planned>& plan);
  void after_forward(Sequence& s, const float* logits);
  void finish(Sequence& s, FinishReason why, RequestOutput& out);
  void finish_cancelled(Sequence& s);
  void sweep();
  void publish_stats();
  void loop();

  model::Model& model_;
  const tokenizer::Tokenizer& tok_;
  EngineOptions opts_;
  int64_t max_model_len_ = 0;
  model::KVCache cache_;
  KvBlockManager blocks_;
  std::vector<float> logits_;  // [logit rows, vocab] of the last step (the engine thread's)

  mutable std::mutex mu_;  // guards inbox_, cancels_, queued_, published_
  std::condition_variable wake_;
  std::vector<std::unique_ptr<Sequence>> inbox_;
  std::unordered_set<uint64_t> cancels_;
  uint64_t next_id_ = 1;
  int64_t queued_ = 0;  // inbox + waiting, for admission control

  std::deque<std::unique_ptr<Sequence>> waiting_;
  std::list<std::unique_ptr<Sequence>> running_;  // oldest first
  EngineStats stats_;      // engine thread only
  EngineStats published_;  // copy for other threads, under mu_
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace dsinfer::engine
